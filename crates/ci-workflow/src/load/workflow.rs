//! The top level of a workflow: `name`, `on`, `env`, `defaults`,
//! `concurrency`, `permissions` and the `jobs` mapping.

use std::collections::HashSet;

use super::checks;
use super::job::read_job;
use super::on::read_on;
use super::reader::{Fields, Reader, describe_value, is_identifier};
use crate::model::{
    Concurrency, Defaults, Env, OrderedMap, PermissionLevel, Permissions, RunDefaults, Spanned,
    Workflow,
};
use crate::yaml::{Node, Value};

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

/// Permission scopes of the `GITHUB_TOKEN`.
const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "artifact-metadata",
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
    let mut seen = HashSet::new();
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
        // A repeated id was reported as a duplicate key; the first wins.
        if !seen.insert(id) {
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
                        describe_value(value)
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
