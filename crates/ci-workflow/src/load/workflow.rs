//! The top level of a workflow: `name`, `on`, `env`, `defaults`,
//! `concurrency`, `permissions` and the `jobs` mapping.

use super::checks;
use super::job::read_job;
use super::reader::{Fields, Reader, is_identifier};
use crate::model::{
    CallInput, CallOutput, CallSecret, Concurrency, Defaults, DispatchInput, Env, InputType, On,
    OrderedMap, PermissionLevel, Permissions, RunDefaults, Spanned, Trigger, TriggerConfig,
    Workflow, WorkflowCall,
};
use crate::trigger::EventFilter;
use crate::yaml::{Node, Position, Resolved, Value};

const WORKFLOW_KEYS: &[&str] = &[
    "name",
    "run-name",
    "on",
    "env",
    "defaults",
    "concurrency",
    "permissions",
    "jobs",
];

/// Events GitHub can trigger a workflow with.
const KNOWN_EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];

/// Permission scopes of the `GITHUB_TOKEN`.
const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

/// Reads the whole workflow. Returns `None` when the top level is unusable;
/// other errors are recorded and a partial model is returned.
pub(super) fn read_workflow(reader: &mut Reader, root: &Node) -> Option<Workflow> {
    let context = "the workflow";
    if root.as_mapping().is_none() {
        reader.error(
            root.pos,
            format!(
                "a workflow must be a mapping with keys such as \"on\" and \"jobs\", found {}",
                root.kind_name()
            ),
        );
        return None;
    }
    let fields = reader.fields(root, "the workflow", context, WORKFLOW_KEYS)?;

    let name = fields
        .get("name")
        .and_then(|(_, node)| reader.string(node, "\"name\"", context));
    let run_name = fields
        .get("run-name")
        .and_then(|(_, node)| reader.template(node, "\"run-name\"", context, false));
    let on = match fields.get("on") {
        Some((key, node)) => read_on(reader, key.pos, node),
        None => {
            reader.error(
                root.pos,
                "\"on\" is required in the workflow: it names the events that run it",
            );
            None
        }
    };
    let env = read_env(reader, fields.get("env"), context);
    let defaults = fields
        .get("defaults")
        .and_then(|(_, node)| read_defaults(reader, node, context));
    let concurrency = fields
        .get("concurrency")
        .and_then(|(_, node)| read_concurrency(reader, node, context));
    let permissions = fields
        .get("permissions")
        .and_then(|(_, node)| read_permissions(reader, node, context));
    let jobs = read_jobs(reader, &fields)?;

    let workflow = Workflow {
        path: reader.path.to_string(),
        name,
        run_name,
        on: on?,
        env,
        defaults,
        concurrency,
        permissions,
        jobs,
    };
    checks::check_workflow(reader, &workflow);
    Some(workflow)
}

fn read_jobs(reader: &mut Reader, fields: &Fields) -> Option<OrderedMap<crate::model::Job>> {
    let Some((jobs_key, jobs_node)) = fields.get("jobs") else {
        reader.error(
            fields.pos,
            "\"jobs\" is required in the workflow: it lists the jobs to run",
        );
        return None;
    };
    let entries = reader.mapping(jobs_node, "\"jobs\"", "the workflow")?;
    if entries.is_empty() {
        reader.error(jobs_key.pos, "\"jobs\" must contain at least one job");
        return None;
    }

    let mut jobs = OrderedMap::default();
    for (key, value) in entries {
        let Some(id) = reader.key_string(key, "\"jobs\"") else {
            continue;
        };
        if !is_identifier(id) {
            reader.error(
                key.pos,
                format!(
                    "invalid job id \"{id}\": a job id must start with a letter or \"_\" and \
                     contain only letters, digits, \"-\" and \"_\""
                ),
            );
        }
        if jobs.get(id).is_some() {
            continue;
        }
        if let Some(job) = read_job(reader, id, key.pos, value) {
            jobs.push(id, key.pos, job);
        }
    }
    Some(jobs)
}

/// Reads `env:` of any level: names to templates.
pub(super) fn read_env(reader: &mut Reader, field: Option<(&Node, &Node)>, context: &str) -> Env {
    let mut env = Env::default();
    let Some((_, node)) = field else {
        return env;
    };
    if let Value::Scalar(scalar) = &node.value
        && !node.is_null()
    {
        // `env: ${{ fromJSON(...) }}` is not accepted by GitHub either.
        reader.error(
            node.pos,
            format!(
                "\"env\" in {context} must be a mapping of variable names to values, found the \
                 string \"{}\"",
                scalar.text
            ),
        );
        return env;
    }
    let Some(entries) = reader.mapping(node, "\"env\"", context) else {
        return env;
    };
    for (key, value) in entries {
        let Some(name) = reader.key_string(key, &format!("\"env\" of {context}")) else {
            continue;
        };
        let label = format!("env \"{name}\"");
        if let Some(template) = reader.template(value, &label, context, true) {
            env.push(name, key.pos, template);
        }
    }
    env
}

/// Reads `defaults:` of a workflow or job.
pub(super) fn read_defaults(reader: &mut Reader, node: &Node, context: &str) -> Option<Defaults> {
    let fields = reader.fields(
        node,
        "\"defaults\"",
        &format!("\"defaults\" of {context}"),
        &["run"],
    )?;
    let mut defaults = Defaults::default();
    if let Some((_, run)) = fields.get("run") {
        let run_context = format!("\"defaults.run\" of {context}");
        let run_fields = reader.fields(
            run,
            "\"run\"",
            &run_context,
            &["shell", "working-directory"],
        )?;
        defaults.run = RunDefaults {
            shell: run_fields
                .get("shell")
                .and_then(|(_, n)| reader.template(n, "\"shell\"", &run_context, false)),
            working_directory: run_fields.get("working-directory").and_then(|(_, n)| {
                reader.template(n, "\"working-directory\"", &run_context, false)
            }),
        };
    }
    Some(defaults)
}

/// Reads `concurrency:`: a group name or `{ group, cancel-in-progress }`.
pub(super) fn read_concurrency(
    reader: &mut Reader,
    node: &Node,
    context: &str,
) -> Option<Concurrency> {
    if node.as_scalar().is_some() {
        let group = reader.template(node, "\"concurrency\"", context, false)?;
        return Some(Concurrency {
            pos: node.pos,
            group,
            cancel_in_progress: None,
        });
    }

    let concurrency_context = format!("\"concurrency\" of {context}");
    let fields = reader.fields(
        node,
        "\"concurrency\"",
        &concurrency_context,
        &["group", "cancel-in-progress"],
    )?;
    let cancel_in_progress = fields.get("cancel-in-progress").and_then(|(_, n)| {
        reader.bool_or_expression(n, "\"cancel-in-progress\"", &concurrency_context)
    });
    let Some((_, group_node)) = fields.get("group") else {
        reader.error(
            node.pos,
            format!("\"group\" is required in {concurrency_context}"),
        );
        return None;
    };
    let group = reader.template(group_node, "\"group\"", &concurrency_context, false)?;
    Some(Concurrency {
        pos: node.pos,
        group,
        cancel_in_progress,
    })
}

/// Reads `permissions:`: `read-all`, `write-all` or a map of scopes.
pub(super) fn read_permissions(
    reader: &mut Reader,
    node: &Node,
    context: &str,
) -> Option<Permissions> {
    if let (Some(text), false) = (node.as_str(), node.is_null()) {
        return match text {
            "read-all" => Some(Permissions::ReadAll(node.pos)),
            "write-all" => Some(Permissions::WriteAll(node.pos)),
            other => {
                reader.error(
                    node.pos,
                    format!(
                        "invalid \"permissions\" value \"{other}\" in {context}: expected \
                         read-all, write-all or a mapping of scopes such as \"contents: read\""
                    ),
                );
                None
            }
        };
    }

    let permissions_context = format!("\"permissions\" of {context}");
    let fields = reader.fields(
        node,
        "\"permissions\"",
        &permissions_context,
        PERMISSION_SCOPES,
    )?;
    let mut scopes = OrderedMap::default();
    for (key, value) in fields.entries {
        let Some(scope) = key.as_str() else { continue };
        let level = match value.as_str() {
            Some("read") => PermissionLevel::Read,
            Some("write") => PermissionLevel::Write,
            Some("none") => PermissionLevel::None,
            _ => {
                reader.error(
                    value.pos,
                    format!(
                        "permission \"{scope}\" in {context} must be read, write or none, found {}",
                        describe_scalar(value)
                    ),
                );
                continue;
            }
        };
        if level == PermissionLevel::Read && scope == "id-token" {
            reader.error(
                value.pos,
                format!(
                    "permission \"id-token\" in {context} must be write or none, found \"read\""
                ),
            );
            continue;
        }
        scopes.push(scope, key.pos, Spanned::new(level, value.pos));
    }
    Some(Permissions::Scopes(scopes))
}

/// Describes a node for a message: a scalar's quoted text, else its kind.
pub(super) fn describe_scalar(node: &Node) -> String {
    match node.as_str() {
        Some(text) if !node.is_null() => format!("\"{text}\""),
        _ => node.kind_name().to_string(),
    }
}

/// Reads `on:` in its three forms: an event name, a list of event names,
/// or a mapping of event names to their configuration.
fn read_on(reader: &mut Reader, key_pos: Position, node: &Node) -> Option<On> {
    let mut triggers = Vec::new();
    match &node.value {
        Value::Scalar(_) => {
            let name = reader.string(node, "\"on\"", "the workflow")?;
            triggers.push(plain_trigger(reader, name));
        }
        Value::Sequence(items) => {
            for item in items {
                if let Some(name) = reader.string(item, "event names under \"on\"", "the workflow")
                {
                    triggers.push(plain_trigger(reader, name));
                }
            }
        }
        Value::Mapping(entries) => {
            for (key, value) in entries {
                let Some(name) = reader.key_string(key, "\"on\"") else {
                    continue;
                };
                check_event_name(reader, name, key.pos);
                if let Some(trigger) = read_trigger(reader, name, key.pos, value) {
                    triggers.push(trigger);
                }
            }
        }
    }

    if triggers.is_empty() && reader.diagnostics.iter().all(|d| !d.is_error()) {
        reader.error(key_pos, "\"on\" must name at least one event");
        return None;
    }
    Some(On {
        pos: node.pos,
        triggers,
    })
}

fn plain_trigger(reader: &mut Reader, name: Spanned<String>) -> Trigger {
    check_event_name(reader, &name.value, name.pos);
    if name.value == "schedule" {
        reader.error(
            name.pos,
            "event \"schedule\" needs a list of cron entries, such as \"schedule: [{cron: '0 3 * * *'}]\"",
        );
    }
    let config = match name.value.as_str() {
        "workflow_call" => TriggerConfig::WorkflowCall(WorkflowCall::default()),
        "workflow_dispatch" => TriggerConfig::WorkflowDispatch(OrderedMap::default()),
        _ => TriggerConfig::None,
    };
    Trigger {
        event: name.value,
        pos: name.pos,
        filter: EventFilter::default(),
        config,
    }
}

fn check_event_name(reader: &mut Reader, name: &str, pos: Position) {
    if KNOWN_EVENTS.contains(&name) {
        return;
    }
    let message = match crate::diagnostic::did_you_mean(name, KNOWN_EVENTS.iter().copied()) {
        Some(suggestion) => {
            format!("unknown event \"{name}\" under \"on\", did you mean \"{suggestion}\"?")
        }
        None => format!("unknown event \"{name}\" under \"on\""),
    };
    reader.warning(pos, message);
}

/// The filter keys each event accepts.
fn filter_keys(event: &str) -> &'static [&'static str] {
    match event {
        "push" => &[
            "branches",
            "branches-ignore",
            "tags",
            "tags-ignore",
            "paths",
            "paths-ignore",
        ],
        "pull_request" | "pull_request_target" => &[
            "types",
            "branches",
            "branches-ignore",
            "paths",
            "paths-ignore",
        ],
        "workflow_run" => &["types", "workflows", "branches", "branches-ignore"],
        "workflow_dispatch" => &["inputs"],
        "workflow_call" => &["inputs", "outputs", "secrets"],
        _ => &["types"],
    }
}

fn read_trigger(reader: &mut Reader, event: &str, pos: Position, node: &Node) -> Option<Trigger> {
    let mut trigger = Trigger {
        event: event.to_string(),
        pos,
        filter: EventFilter::default(),
        config: TriggerConfig::None,
    };
    let context = format!("event \"{event}\"");

    if event == "schedule" {
        trigger.config = TriggerConfig::Schedule(read_schedule(reader, node, pos));
        return Some(trigger);
    }

    let fields = reader.fields(node, &format!("\"{event}\""), &context, filter_keys(event))?;
    trigger.filter = read_filter(reader, &fields, &context);
    trigger.config = match event {
        "workflow_dispatch" => {
            TriggerConfig::WorkflowDispatch(read_dispatch_inputs(reader, &fields))
        }
        "workflow_call" => TriggerConfig::WorkflowCall(read_workflow_call(reader, &fields)),
        "workflow_run" => TriggerConfig::WorkflowRun(
            fields
                .get("workflows")
                .map(|(_, n)| reader.string_list(n, "\"workflows\"", &context))
                .unwrap_or_default(),
        ),
        _ => TriggerConfig::None,
    };
    Some(trigger)
}

fn read_filter(reader: &mut Reader, fields: &Fields, context: &str) -> EventFilter {
    let mut list = |key: &str| -> Option<Vec<String>> {
        let (_, node) = fields.get(key)?;
        let label = format!("\"{key}\"");
        Some(
            reader
                .string_list(node, &label, context)
                .into_iter()
                .map(|s| s.value)
                .collect(),
        )
    };
    let filter = EventFilter {
        types: list("types"),
        branches: list("branches"),
        branches_ignore: list("branches-ignore"),
        tags: list("tags"),
        tags_ignore: list("tags-ignore"),
        paths: list("paths"),
        paths_ignore: list("paths-ignore"),
    };

    for kind in ["branches", "tags", "paths"] {
        let ignore = format!("{kind}-ignore");
        if let (Some(_), Some((ignore_key, _))) = (fields.get(kind), fields.get(&ignore)) {
            reader.error(
                ignore_key.pos,
                format!(
                    "\"{kind}\" and \"{ignore}\" cannot both be used for {context}; use \"{kind}\" \
                     with \"!\" patterns instead"
                ),
            );
        }
    }
    filter
}

fn read_schedule(reader: &mut Reader, node: &Node, pos: Position) -> Vec<Spanned<String>> {
    let context = "event \"schedule\"";
    let Some(items) = node.as_sequence() else {
        reader.type_error(node, "\"schedule\"", context, "a list of \"cron\" entries");
        return Vec::new();
    };
    if items.is_empty() {
        reader.error(pos, "\"schedule\" must contain at least one \"cron\" entry");
    }

    let mut crons = Vec::new();
    for item in items {
        let Some(fields) = reader.fields(item, "a schedule entry", context, &["cron"]) else {
            continue;
        };
        let Some((_, cron_node)) = fields.get("cron") else {
            reader.error(
                item.pos,
                format!("\"cron\" is required in each entry of {context}"),
            );
            continue;
        };
        if let Some(cron) = reader.string(cron_node, "\"cron\"", context) {
            check_cron(reader, &cron);
            crons.push(cron);
        }
    }
    crons
}

/// Checks that a cron expression has five fields of allowed characters.
fn check_cron(reader: &mut Reader, cron: &Spanned<String>) {
    let fields: Vec<&str> = cron.value.split_whitespace().collect();
    let allowed = |field: &str| {
        field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/'))
    };
    if fields.len() != 5 || !fields.iter().all(|field| allowed(field)) {
        reader.error(
            cron.pos,
            format!(
                "invalid cron expression \"{}\": expected five fields (minute hour day-of-month \
                 month day-of-week) such as \"30 5 * * 1-5\"",
                cron.value
            ),
        );
    }
}

const DISPATCH_INPUT_KEYS: &[&str] = &["description", "required", "default", "type", "options"];
const CALL_INPUT_KEYS: &[&str] = &["description", "required", "default", "type"];

fn read_dispatch_inputs(reader: &mut Reader, fields: &Fields) -> OrderedMap<DispatchInput> {
    let mut inputs = OrderedMap::default();
    let Some((_, node)) = fields.get("inputs") else {
        return inputs;
    };
    let Some(entries) = reader.mapping(node, "\"inputs\"", "event \"workflow_dispatch\"") else {
        return inputs;
    };
    for (key, value) in entries {
        let Some(name) = input_name(reader, key, "workflow_dispatch") else {
            continue;
        };
        let context = format!("input \"{name}\" of \"workflow_dispatch\"");
        let Some(input_fields) = reader.fields(value, "an input", &context, DISPATCH_INPUT_KEYS)
        else {
            continue;
        };
        let input_type =
            read_input_type(reader, &input_fields, &context, true).unwrap_or(InputType::String);
        let options = input_fields
            .get("options")
            .map(|(_, n)| reader.string_list(n, "\"options\"", &context))
            .unwrap_or_default();
        let input = DispatchInput {
            description: description(reader, &input_fields, &context),
            required: required(reader, &input_fields, &context),
            default: input_fields.get("default").map(|(_, n)| reader.data(n)),
            input_type,
            options,
        };
        check_dispatch_input(reader, &input, &input_fields, &context);
        inputs.push(name, key.pos, input);
    }
    inputs
}

fn check_dispatch_input(
    reader: &mut Reader,
    input: &DispatchInput,
    fields: &Fields,
    context: &str,
) {
    if input.input_type == InputType::Choice && input.options.is_empty() {
        let pos = fields.get("type").map_or(fields.pos, |(_, n)| n.pos);
        reader.error(pos, format!("{context} has type choice but no \"options\""));
    }
    if input.input_type != InputType::Choice
        && let Some((key, _)) = fields.get("options")
    {
        reader.warning(
            key.pos,
            format!("\"options\" in {context} is ignored because its type is not choice"),
        );
    }
    if let Some(default) = &input.default {
        check_default(reader, default, input.input_type, context);
        if input.input_type == InputType::Choice
            && !input.options.is_empty()
            && let Some(text) = default.value.as_str()
            && !input.options.iter().any(|option| option.value == text)
        {
            reader.error(
                default.pos,
                format!("default \"{text}\" of {context} is not one of its options"),
            );
        }
    }
}

fn check_default(
    reader: &mut Reader,
    default: &crate::model::Data,
    input_type: InputType,
    context: &str,
) {
    let is_expression = default.value.as_str().is_some_and(|s| s.contains("${{"));
    let matches = match input_type {
        InputType::Boolean => default.value.is_boolean(),
        InputType::Number => default.value.is_number(),
        _ => !default.value.is_array() && !default.value.is_object(),
    };
    if !matches && !is_expression {
        reader.error(
            default.pos,
            format!(
                "default of {context} must be a {} value, found {}",
                input_type.as_str(),
                default.value
            ),
        );
    }
}

fn input_name<'n>(reader: &mut Reader, key: &'n Node, event: &str) -> Option<&'n str> {
    let name = reader.key_string(key, &format!("\"inputs\" of \"{event}\""))?;
    if !is_identifier(name) {
        reader.error(
            key.pos,
            format!(
                "invalid input name \"{name}\": a name must start with a letter or \"_\" and \
                 contain only letters, digits, \"-\" and \"_\""
            ),
        );
    }
    Some(name)
}

fn read_input_type(
    reader: &mut Reader,
    fields: &Fields,
    context: &str,
    dispatch: bool,
) -> Option<InputType> {
    let (_, node) = fields.get("type")?;
    let input_type = match node.as_str() {
        Some("string") => InputType::String,
        Some("boolean") => InputType::Boolean,
        Some("number") => InputType::Number,
        Some("choice") if dispatch => InputType::Choice,
        Some("environment") if dispatch => InputType::Environment,
        _ => {
            let expected = if dispatch {
                "string, boolean, number, choice or environment"
            } else {
                "string, boolean or number"
            };
            reader.error(
                node.pos,
                format!(
                    "\"type\" of {context} must be {expected}, found {}",
                    describe_scalar(node)
                ),
            );
            return None;
        }
    };
    Some(input_type)
}

fn description(reader: &mut Reader, fields: &Fields, context: &str) -> Option<Spanned<String>> {
    let (_, node) = fields.get("description")?;
    reader.string(node, "\"description\"", context)
}

fn required(reader: &mut Reader, fields: &Fields, context: &str) -> bool {
    fields
        .get("required")
        .and_then(|(_, node)| reader.boolean(node, "\"required\"", context))
        .unwrap_or(false)
}

fn read_workflow_call(reader: &mut Reader, fields: &Fields) -> WorkflowCall {
    let mut call = WorkflowCall::default();
    let event_context = "event \"workflow_call\"";

    if let Some((_, node)) = fields.get("inputs")
        && let Some(entries) = reader.mapping(node, "\"inputs\"", event_context)
    {
        for (key, value) in entries {
            let Some(name) = input_name(reader, key, "workflow_call") else {
                continue;
            };
            let context = format!("input \"{name}\" of \"workflow_call\"");
            let Some(input_fields) = reader.fields(value, "an input", &context, CALL_INPUT_KEYS)
            else {
                continue;
            };
            if !input_fields.has("type") {
                reader.error(
                    key.pos,
                    format!("\"type\" is required in {context}: string, boolean or number"),
                );
            }
            let input = CallInput {
                description: description(reader, &input_fields, &context),
                required: required(reader, &input_fields, &context),
                default: input_fields.get("default").map(|(_, n)| reader.data(n)),
                input_type: read_input_type(reader, &input_fields, &context, false)
                    .unwrap_or(InputType::String),
            };
            if let Some(default) = &input.default {
                check_default(reader, default, input.input_type, &context);
            }
            call.inputs.push(name, key.pos, input);
        }
    }

    if let Some((_, node)) = fields.get("outputs")
        && let Some(entries) = reader.mapping(node, "\"outputs\"", event_context)
    {
        for (key, value) in entries {
            let Some(name) = reader.key_string(key, "\"outputs\" of \"workflow_call\"") else {
                continue;
            };
            let context = format!("output \"{name}\" of \"workflow_call\"");
            let Some(output_fields) =
                reader.fields(value, "an output", &context, &["description", "value"])
            else {
                continue;
            };
            let Some((_, value_node)) = output_fields.get("value") else {
                reader.error(key.pos, format!("\"value\" is required in {context}"));
                continue;
            };
            let Some(value) = reader.template(value_node, "\"value\"", &context, false) else {
                continue;
            };
            let output = CallOutput {
                description: description(reader, &output_fields, &context),
                value,
            };
            call.outputs.push(name, key.pos, output);
        }
    }

    if let Some((_, node)) = fields.get("secrets")
        && let Some(entries) = reader.mapping(node, "\"secrets\"", event_context)
    {
        for (key, value) in entries {
            let Some(name) = reader.key_string(key, "\"secrets\" of \"workflow_call\"") else {
                continue;
            };
            let context = format!("secret \"{name}\" of \"workflow_call\"");
            let Some(secret_fields) =
                reader.fields(value, "a secret", &context, &["description", "required"])
            else {
                continue;
            };
            let secret = CallSecret {
                description: description(reader, &secret_fields, &context),
                required: required(reader, &secret_fields, &context),
            };
            call.secrets.push(name, key.pos, secret);
        }
    }
    call
}

/// Returns true when a scalar resolves to a string (not a number, boolean
/// or null).
#[allow(dead_code)]
fn is_string_scalar(node: &Node) -> bool {
    node.as_scalar()
        .is_some_and(|scalar| scalar.resolve() == Resolved::String)
}
