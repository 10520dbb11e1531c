//! One job: its settings, its strategy and matrix, its containers, and its
//! steps or its call of a reusable workflow.

use super::reader::{Fields, Reader, is_whole_expression};
use super::workflow::{read_concurrency, read_defaults, read_env, read_permissions};
use crate::model::{
    CallSecrets, Container, Credentials, Environment, Job, JobKind, Matrix, MatrixAxes, MatrixRow,
    MatrixRows, MatrixValues, OrderedMap, RunsOn, Spanned, Step, StepAction, Strategy, Template,
    WorkflowCallJob,
};
use crate::yaml::{Node, Position, Value};

const JOB_KEYS: &[&str] = &[
    "name",
    "runs-on",
    "needs",
    "if",
    "env",
    "defaults",
    "strategy",
    "continue-on-error",
    "timeout-minutes",
    "outputs",
    "container",
    "services",
    "environment",
    "concurrency",
    "permissions",
    "steps",
    "uses",
    "with",
    "secrets",
];

/// Keys a job that calls a reusable workflow may have.
const CALL_JOB_KEYS: &[&str] = &[
    "name",
    "uses",
    "with",
    "secrets",
    "needs",
    "if",
    "permissions",
    "strategy",
    "concurrency",
];

const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "if",
    "run",
    "shell",
    "working-directory",
    "env",
    "uses",
    "with",
    "continue-on-error",
    "timeout-minutes",
];

const CONTAINER_KEYS: &[&str] = &["image", "credentials", "env", "ports", "volumes", "options"];

/// Reads the job `id` whose id is at `pos`.
pub(super) fn read_job(reader: &mut Reader, id: &str, pos: Position, node: &Node) -> Option<Job> {
    let context = format!("job \"{id}\"");
    if node.as_mapping().is_none() {
        reader.type_error(node, &format!("job \"{id}\""), "\"jobs\"", "a mapping");
        return None;
    }
    let fields = reader.fields(node, "the job", &context, JOB_KEYS)?;
    let kind = read_job_kind(reader, id, pos, &fields, &context)?;

    let runs_on = match fields.get("runs-on") {
        Some((_, n)) => read_runs_on(reader, n, &context),
        None => {
            if matches!(kind, JobKind::Steps(_)) {
                reader.error(pos, format!("\"runs-on\" is required in {context}"));
            }
            None
        }
    };

    Some(Job {
        id: id.to_string(),
        pos,
        name: fields
            .get("name")
            .and_then(|(_, n)| reader.template(n, "\"name\"", &context, false)),
        runs_on,
        needs: fields
            .get("needs")
            .map(|(_, n)| reader.string_list(n, "\"needs\"", &context))
            .unwrap_or_default(),
        condition: fields
            .get("if")
            .and_then(|(_, n)| reader.condition(n, &context)),
        env: read_env(reader, fields.get("env"), &context),
        defaults: fields
            .get("defaults")
            .and_then(|(_, n)| read_defaults(reader, n, &context)),
        strategy: fields
            .get("strategy")
            .and_then(|(_, n)| read_strategy(reader, n, &context)),
        continue_on_error: fields
            .get("continue-on-error")
            .and_then(|(_, n)| reader.bool_or_expression(n, "\"continue-on-error\"", &context)),
        timeout_minutes: fields
            .get("timeout-minutes")
            .and_then(|(_, n)| reader.number_or_expression(n, "\"timeout-minutes\"", &context)),
        outputs: fields
            .get("outputs")
            .map(|(_, n)| read_template_map(reader, n, "\"outputs\"", &context, "output"))
            .unwrap_or_default(),
        container: fields
            .get("container")
            .and_then(|(_, n)| read_container(reader, n, &format!("\"container\" of {context}"))),
        services: fields
            .get("services")
            .map(|(_, n)| read_services(reader, n, &context))
            .unwrap_or_default(),
        environment: fields
            .get("environment")
            .and_then(|(_, n)| read_environment(reader, n, &context)),
        concurrency: fields
            .get("concurrency")
            .and_then(|(_, n)| read_concurrency(reader, n, &context)),
        permissions: fields
            .get("permissions")
            .and_then(|(_, n)| read_permissions(reader, n, &context)),
        kind,
    })
}

/// Decides between a steps job and a reusable-workflow job and reads the
/// part that differs.
fn read_job_kind(
    reader: &mut Reader,
    id: &str,
    pos: Position,
    fields: &Fields,
    context: &str,
) -> Option<JobKind> {
    match (fields.get("steps"), fields.get("uses")) {
        (Some(_), Some((uses_key, _))) => {
            reader.error(
                uses_key.pos,
                format!(
                    "{context} has both \"steps\" and \"uses\": a job either runs steps or \
                     calls a reusable workflow"
                ),
            );
            None
        }
        (None, None) => {
            reader.error(
                pos,
                format!(
                    "job \"{id}\" needs \"steps\" (a list of steps to run) or \"uses\" (a \
                     reusable workflow to call)"
                ),
            );
            None
        }
        (Some((steps_key, steps)), None) => {
            for key in ["with", "secrets"] {
                if let Some((key_node, _)) = fields.get(key) {
                    reader.error(
                        key_node.pos,
                        format!(
                            "\"{key}\" in {context} is only valid with \"uses\"; for an \
                             action, put it on a step"
                        ),
                    );
                }
            }
            read_steps(reader, steps_key.pos, steps, context).map(JobKind::Steps)
        }
        (None, Some((_, uses))) => read_call_job(reader, fields, uses, context).map(JobKind::Call),
    }
}

fn read_call_job(
    reader: &mut Reader,
    fields: &Fields,
    uses: &Node,
    context: &str,
) -> Option<WorkflowCallJob> {
    for (key, _) in fields.entries {
        if let Some(name) = key.as_str()
            && JOB_KEYS.contains(&name)
            && !CALL_JOB_KEYS.contains(&name)
        {
            reader.error(
                key.pos,
                format!("\"{name}\" cannot be used in {context}, which calls a reusable workflow"),
            );
        }
    }

    let uses = reader.string(uses, "\"uses\"", context)?;
    check_workflow_reference(reader, &uses, context);
    let secrets = fields.get("secrets").and_then(|(_, node)| {
        if node.as_str() == Some("inherit") {
            return Some(CallSecrets::Inherit(node.pos));
        }
        if node.as_scalar().is_some() && !node.is_null() {
            reader.type_error(node, "\"secrets\"", context, "\"inherit\" or a mapping");
            return None;
        }
        Some(CallSecrets::Map(read_template_map(
            reader,
            node,
            "\"secrets\"",
            context,
            "secret",
        )))
    });
    Some(WorkflowCallJob {
        uses,
        with: fields
            .get("with")
            .map(|(_, n)| read_template_map(reader, n, "\"with\"", context, "input"))
            .unwrap_or_default(),
        secrets,
    })
}

/// Checks `uses:` of a job: `./.github/workflows/file.yml` or
/// `owner/repo/.github/workflows/file.yml@ref`. GitHub finds reusable
/// workflows only directly in `.github/workflows`, so a subdirectory, a
/// `..` or another directory is an error.
fn check_workflow_reference(reader: &mut Reader, uses: &Spanned<String>, context: &str) {
    let text = uses.value.as_str();
    let valid = if text.contains("${{") {
        false
    } else if let Some(path) = text.strip_prefix("./") {
        is_workflows_file(path)
    } else {
        match text.split_once('@') {
            Some((path, reference)) => {
                let mut parts = path.splitn(3, '/');
                let owner = parts.next().unwrap_or_default();
                let repo = parts.next().unwrap_or_default();
                let file = parts.next().unwrap_or_default();
                !owner.is_empty()
                    && !repo.is_empty()
                    && is_workflows_file(file)
                    && !reference.is_empty()
            }
            None => false,
        }
    };
    if !valid {
        reader.error(
            uses.pos,
            format!(
                "invalid \"uses\" value \"{text}\" in {context}: expected a reusable workflow as \
                 \"./.github/workflows/file.yml\" or \"owner/repo/.github/workflows/file.yml@ref\""
            ),
        );
    }
}

/// Returns whether `path` names a YAML file directly in `.github/workflows`.
fn is_workflows_file(path: &str) -> bool {
    let Some(file) = path.strip_prefix(".github/workflows/") else {
        return false;
    };
    let is_yaml = file.ends_with(".yml") || file.ends_with(".yaml");
    is_yaml && !file.contains('/') && file != ".yml" && file != ".yaml"
}

fn read_runs_on(reader: &mut Reader, node: &Node, context: &str) -> Option<RunsOn> {
    match &node.value {
        Value::Scalar(_) | Value::Sequence(_) => {
            let labels = reader.template_list(node, "\"runs-on\"", context);
            if labels.is_empty() && node.as_sequence().is_some_and(<[Node]>::is_empty) {
                reader.error(
                    node.pos,
                    format!("\"runs-on\" in {context} must not be empty"),
                );
            }
            Some(RunsOn::Labels(labels))
        }
        Value::Mapping(_) => {
            let runs_on_context = format!("\"runs-on\" of {context}");
            let fields =
                reader.fields(node, "\"runs-on\"", &runs_on_context, &["group", "labels"])?;
            let group = fields
                .get("group")
                .and_then(|(_, n)| reader.template(n, "\"group\"", &runs_on_context, false));
            let labels = fields
                .get("labels")
                .map(|(_, n)| reader.template_list(n, "\"labels\"", &runs_on_context))
                .unwrap_or_default();
            if !fields.has("group") && !fields.has("labels") {
                reader.error(
                    node.pos,
                    format!("\"runs-on\" of {context} needs \"group\" or \"labels\""),
                );
            }
            Some(RunsOn::Group { group, labels })
        }
    }
}

/// Reads a mapping of names to templates (`outputs`, `with`, `secrets`).
fn read_template_map(
    reader: &mut Reader,
    node: &Node,
    label: &str,
    context: &str,
    item: &str,
) -> OrderedMap<Template> {
    let mut map = OrderedMap::default();
    let Some(entries) = reader.mapping(node, label, context) else {
        return map;
    };
    for (key, value) in entries {
        let Some(name) = reader.key_string(key, &format!("{label} of {context}")) else {
            continue;
        };
        let item_label = format!("{item} \"{name}\"");
        if let Some(template) = reader.template(value, &item_label, context, true) {
            map.push(name, key.pos, template);
        }
    }
    map
}

fn read_strategy(reader: &mut Reader, node: &Node, context: &str) -> Option<Strategy> {
    let strategy_context = format!("\"strategy\" of {context}");
    let fields = reader.fields(
        node,
        "\"strategy\"",
        &strategy_context,
        &["matrix", "fail-fast", "max-parallel"],
    )?;
    Some(Strategy {
        pos: node.pos,
        matrix: fields
            .get("matrix")
            .and_then(|(_, n)| read_matrix(reader, n, context)),
        fail_fast: fields
            .get("fail-fast")
            .and_then(|(_, n)| reader.bool_or_expression(n, "\"fail-fast\"", &strategy_context)),
        max_parallel: fields.get("max-parallel").and_then(|(_, n)| {
            reader.count_or_expression(n, "\"max-parallel\"", &strategy_context)
        }),
    })
}

/// Reads a template that must be one whole `${{ }}` expression, such as a
/// matrix given as `${{ fromJSON(...) }}`.
fn whole_expression(
    reader: &mut Reader,
    node: &Node,
    label: &str,
    context: &str,
    expected: &str,
) -> Option<Template> {
    let is_expression = node.as_str().is_some_and(is_whole_expression);
    if !is_expression {
        reader.type_error(node, label, context, expected);
        return None;
    }
    reader.template(node, label, context, false)
}

fn read_matrix(reader: &mut Reader, node: &Node, context: &str) -> Option<Matrix> {
    let matrix_context = format!("the matrix of {context}");
    let Some(entries) = node.as_mapping() else {
        return whole_expression(
            reader,
            node,
            "\"matrix\"",
            context,
            "a mapping or a ${{ }} expression",
        )
        .map(Matrix::Expression);
    };

    let mut matrix = MatrixAxes {
        pos: node.pos,
        axes: OrderedMap::default(),
        include: None,
        exclude: None,
    };
    for (key, value) in entries {
        let Some(name) = reader.key_string(key, &matrix_context) else {
            continue;
        };
        match name {
            "include" => matrix.include = read_matrix_rows(reader, value, name, &matrix_context),
            "exclude" => matrix.exclude = read_matrix_rows(reader, value, name, &matrix_context),
            _ => {
                if let Some(values) =
                    read_matrix_axis(reader, name, key.pos, value, &matrix_context)
                {
                    matrix.axes.push(name, key.pos, values);
                }
            }
        }
    }

    if matrix.axes.is_empty() && matrix.include.is_none() {
        reader.error(
            node.pos,
            format!(
                "{matrix_context} needs at least one axis (such as \"os: [...]\") or \"include\""
            ),
        );
    }
    Some(Matrix::Axes(matrix))
}

fn read_matrix_axis(
    reader: &mut Reader,
    name: &str,
    pos: Position,
    node: &Node,
    context: &str,
) -> Option<MatrixValues> {
    let label = format!("axis \"{name}\"");
    match &node.value {
        Value::Sequence(items) => {
            if items.is_empty() {
                reader.error(pos, format!("{label} of {context} has no values"));
            }
            Some(MatrixValues::List(
                items
                    .iter()
                    .map(|item| reader.data_with_expressions(item, &label, context))
                    .collect(),
            ))
        }
        _ => whole_expression(
            reader,
            node,
            &label,
            context,
            "a list of values or a ${{ }} expression",
        )
        .map(MatrixValues::Expression),
    }
}

fn read_matrix_rows(
    reader: &mut Reader,
    node: &Node,
    name: &str,
    context: &str,
) -> Option<MatrixRows> {
    let label = format!("\"{name}\"");
    let Some(items) = node.as_sequence() else {
        return whole_expression(
            reader,
            node,
            &label,
            context,
            "a list of mappings or a ${{ }} expression",
        )
        .map(MatrixRows::Expression);
    };

    let mut rows = Vec::new();
    for item in items {
        let Some(entries) = item.as_mapping() else {
            reader.type_error(
                item,
                &format!("each entry of {label}"),
                context,
                "a mapping",
            );
            continue;
        };
        let mut values = OrderedMap::default();
        for (key, value) in entries {
            if let Some(key_text) = reader.key_string(key, context) {
                let value = reader.data_with_expressions(value, &label, context);
                values.push(key_text, key.pos, value);
            }
        }
        rows.push(MatrixRow {
            pos: item.pos,
            values,
        });
    }
    Some(MatrixRows::List(rows))
}

fn read_services(reader: &mut Reader, node: &Node, context: &str) -> OrderedMap<Container> {
    let mut services = OrderedMap::default();
    let Some(entries) = reader.mapping(node, "\"services\"", context) else {
        return services;
    };
    for (key, value) in entries {
        let Some(name) = reader.key_string(key, &format!("\"services\" of {context}")) else {
            continue;
        };
        let service_context = format!("service \"{name}\" of {context}");
        if let Some(container) = read_container(reader, value, &service_context) {
            services.push(name, key.pos, container);
        }
    }
    services
}

/// Reads a container: an image name, or a mapping with `image` and more.
fn read_container(reader: &mut Reader, node: &Node, context: &str) -> Option<Container> {
    let mut container = Container {
        pos: node.pos,
        image: Template::new("", node.pos),
        credentials: None,
        env: OrderedMap::default(),
        ports: Vec::new(),
        volumes: Vec::new(),
        options: None,
    };
    if node.as_scalar().is_some() {
        container.image = reader.template(node, "the image", context, false)?;
        return Some(container);
    }

    let fields = reader.fields(node, "a container", context, CONTAINER_KEYS)?;
    let Some((_, image)) = fields.get("image") else {
        reader.error(node.pos, format!("\"image\" is required in {context}"));
        return None;
    };
    container.image = reader.template(image, "\"image\"", context, false)?;
    container.credentials = fields
        .get("credentials")
        .and_then(|(_, n)| read_credentials(reader, n, context));
    container.env = read_env(reader, fields.get("env"), context);
    container.ports = fields
        .get("ports")
        .map(|(_, n)| reader.template_list(n, "\"ports\"", context))
        .unwrap_or_default();
    container.volumes = fields
        .get("volumes")
        .map(|(_, n)| reader.template_list(n, "\"volumes\"", context))
        .unwrap_or_default();
    container.options = fields
        .get("options")
        .and_then(|(_, n)| reader.template(n, "\"options\"", context, false));
    Some(container)
}

fn read_credentials(reader: &mut Reader, node: &Node, context: &str) -> Option<Credentials> {
    let credentials_context = format!("\"credentials\" of {context}");
    let fields = reader.fields(
        node,
        "\"credentials\"",
        &credentials_context,
        &["username", "password"],
    )?;
    let mut read = |key: &str| -> Option<Template> {
        let Some((_, value)) = fields.get(key) else {
            reader.error(
                node.pos,
                format!("\"{key}\" is required in {credentials_context}"),
            );
            return None;
        };
        reader.template(value, &format!("\"{key}\""), &credentials_context, false)
    };
    let username = read("username");
    let password = read("password");
    Some(Credentials {
        username: username?,
        password: password?,
    })
}

fn read_environment(reader: &mut Reader, node: &Node, context: &str) -> Option<Environment> {
    if node.as_scalar().is_some() {
        let name = reader.template(node, "\"environment\"", context, false)?;
        return Some(Environment { name, url: None });
    }
    let environment_context = format!("\"environment\" of {context}");
    let fields = reader.fields(
        node,
        "\"environment\"",
        &environment_context,
        &["name", "url"],
    )?;
    let url = fields
        .get("url")
        .and_then(|(_, n)| reader.template(n, "\"url\"", &environment_context, false));
    let Some((_, name)) = fields.get("name") else {
        reader.error(
            node.pos,
            format!("\"name\" is required in {environment_context}"),
        );
        return None;
    };
    let name = reader.template(name, "\"name\"", &environment_context, false)?;
    Some(Environment { name, url })
}

fn read_steps(
    reader: &mut Reader,
    key_pos: Position,
    node: &Node,
    context: &str,
) -> Option<Vec<Step>> {
    let Some(items) = node.as_sequence() else {
        reader.type_error(node, "\"steps\"", context, "a list of steps");
        return None;
    };
    if items.is_empty() {
        reader.error(
            key_pos,
            format!("\"steps\" in {context} must contain at least one step"),
        );
        return None;
    }
    Some(
        items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| read_step(reader, index, item, context))
            .collect(),
    )
}

fn read_step(reader: &mut Reader, index: usize, node: &Node, job_context: &str) -> Option<Step> {
    let context = format!("step {} of {job_context}", index + 1);
    if node.as_mapping().is_none() {
        reader.type_error(
            node,
            &format!("step {}", index + 1),
            job_context,
            "a mapping",
        );
        return None;
    }
    let fields = reader.fields(node, "a step", &context, STEP_KEYS)?;
    let action = read_step_action(reader, node.pos, &fields, &context);

    let id = fields
        .get("id")
        .and_then(|(_, n)| reader.string(n, "\"id\"", &context));
    Some(Step {
        pos: node.pos,
        index,
        id,
        name: fields
            .get("name")
            .and_then(|(_, n)| reader.template(n, "\"name\"", &context, false)),
        condition: fields
            .get("if")
            .and_then(|(_, n)| reader.condition(n, &context)),
        env: read_env(reader, fields.get("env"), &context),
        continue_on_error: fields
            .get("continue-on-error")
            .and_then(|(_, n)| reader.bool_or_expression(n, "\"continue-on-error\"", &context)),
        timeout_minutes: fields
            .get("timeout-minutes")
            .and_then(|(_, n)| reader.number_or_expression(n, "\"timeout-minutes\"", &context)),
        action: action?,
    })
}

fn read_step_action(
    reader: &mut Reader,
    pos: Position,
    fields: &Fields,
    context: &str,
) -> Option<StepAction> {
    match (fields.get("run"), fields.get("uses")) {
        (Some(_), Some((uses_key, _))) => {
            reader.error(
                uses_key.pos,
                format!("{context} has both \"run\" and \"uses\": a step does one of the two"),
            );
            None
        }
        (None, None) => {
            reader.error(
                pos,
                format!("{context} needs \"run\" (a command) or \"uses\" (an action)"),
            );
            None
        }
        (Some((_, run)), None) => {
            if let Some((with_key, _)) = fields.get("with") {
                reader.error(
                    with_key.pos,
                    format!("\"with\" in {context} is only valid with \"uses\""),
                );
            }
            Some(StepAction::Run {
                run: reader.template(run, "\"run\"", context, false)?,
                shell: fields
                    .get("shell")
                    .and_then(|(_, n)| reader.template(n, "\"shell\"", context, false)),
                working_directory: fields
                    .get("working-directory")
                    .and_then(|(_, n)| reader.template(n, "\"working-directory\"", context, false)),
            })
        }
        (None, Some((_, uses))) => {
            for key in ["shell", "working-directory"] {
                if let Some((key_node, _)) = fields.get(key) {
                    reader.error(
                        key_node.pos,
                        format!("\"{key}\" in {context} is only valid with \"run\""),
                    );
                }
            }
            let uses = reader.string(uses, "\"uses\"", context)?;
            check_action_reference(reader, &uses, context);
            Some(StepAction::Uses {
                uses,
                with: fields
                    .get("with")
                    .map(|(_, n)| read_template_map(reader, n, "\"with\"", context, "input"))
                    .unwrap_or_default(),
            })
        }
    }
}

/// Checks `uses:` of a step: `owner/repo@ref`, `owner/repo/path@ref`,
/// `./path` or `docker://image`.
fn check_action_reference(reader: &mut Reader, uses: &Spanned<String>, context: &str) {
    let text = uses.value.as_str();
    let path = text.split('@').next().unwrap_or(text);
    if path.contains(".github/workflows/") && (path.ends_with(".yml") || path.ends_with(".yaml")) {
        reader.error(
            uses.pos,
            format!(
                "\"uses\" in {context} names the reusable workflow \"{text}\", which a step \
                 cannot run; call it with \"uses\" on the job instead of \"steps\""
            ),
        );
        return;
    }

    let valid = if text.contains("${{") {
        false
    } else if text.starts_with("./") {
        true
    } else if let Some(image) = text.strip_prefix("docker://") {
        !image.is_empty()
    } else {
        match text.split_once('@') {
            Some((path, reference)) => {
                let mut parts = path.split('/');
                let owner = parts.next().unwrap_or("");
                let repo = parts.next().unwrap_or("");
                !owner.is_empty() && !repo.is_empty() && !reference.is_empty()
            }
            None => false,
        }
    };
    if !valid {
        reader.error(
            uses.pos,
            format!(
                "invalid \"uses\" value \"{text}\" in {context}: expected \"owner/repo@ref\", \
                 \"owner/repo/path@ref\", \"./path\" or \"docker://image\""
            ),
        );
    }
}
