//! Checks between workflow files: a job that calls a reusable workflow of
//! the same repository (`uses: ./.github/workflows/build.yml`) must name
//! an existing workflow with `on: workflow_call`, pass only the inputs and
//! secrets it declares, and pass every required one.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::model::{CallSecrets, JobKind, TriggerConfig, Workflow, WorkflowCall, WorkflowCallJob};

/// Checks every local reusable-workflow call in `workflows`, which are the
/// loaded workflows of the repository at `repo_root` with their paths
/// relative to it (`.github/workflows/ci.yml`). A called file that exists
/// but is missing from `workflows` failed to load, and its own errors
/// are reported for it, so calls to it are not checked.
pub fn check_local_calls(repo_root: &Path, workflows: &[&Workflow]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for caller in workflows {
        for (id, job) in caller.jobs.iter() {
            let JobKind::Call(call) = &job.kind else {
                continue;
            };
            let Some(relative) = call.uses.value.strip_prefix("./") else {
                continue;
            };
            let context = format!("job \"{id}\"");
            match workflows.iter().find(|w| same_path(&w.path, relative)) {
                Some(called) => check_call(&mut diagnostics, caller, call, called, &context),
                None if !repo_root.join(relative).is_file() => {
                    diagnostics.push(Diagnostic::error(
                        &caller.path,
                        call.uses.pos,
                        format!(
                            "reusable workflow \"{}\" called by {context} does not exist",
                            call.uses.value
                        ),
                    ));
                }
                None => {}
            }
        }
    }
    diagnostics
}

/// Compares a workflow's display path with a path relative to the
/// repository, ignoring a leading `./`.
fn same_path(display_path: &str, relative: &str) -> bool {
    display_path.trim_start_matches("./") == relative.trim_start_matches("./")
}

fn check_call(
    diagnostics: &mut Vec<Diagnostic>,
    caller: &Workflow,
    call: &WorkflowCallJob,
    called: &Workflow,
    context: &str,
) {
    let uses = &call.uses.value;
    let Some(interface) = called.on.triggers.iter().find_map(|t| match &t.config {
        TriggerConfig::WorkflowCall(interface) => Some(interface),
        _ => None,
    }) else {
        diagnostics.push(Diagnostic::error(
            &caller.path,
            call.uses.pos,
            format!(
                "workflow \"{uses}\" called by {context} is not reusable: it has no \
                 \"workflow_call\" trigger"
            ),
        ));
        return;
    };

    check_inputs(diagnostics, caller, call, interface, context);
    check_secrets(diagnostics, caller, call, interface, context);
}

fn check_inputs(
    diagnostics: &mut Vec<Diagnostic>,
    caller: &Workflow,
    call: &WorkflowCallJob,
    interface: &WorkflowCall,
    context: &str,
) {
    let uses = &call.uses.value;
    for entry in &call.with.entries {
        if interface.inputs.get(&entry.key).is_none() {
            diagnostics.push(Diagnostic::error(
                &caller.path,
                entry.key_pos,
                format!(
                    "input \"{}\" in {context} is not defined by \"{uses}\"; it defines {}",
                    entry.key,
                    names_or_none(interface.inputs.keys())
                ),
            ));
        }
    }
    for (name, input) in interface.inputs.iter() {
        if input.required && input.default.is_none() && call.with.get(name).is_none() {
            diagnostics.push(Diagnostic::error(
                &caller.path,
                call.uses.pos,
                format!("{context} does not pass the required input \"{name}\" of \"{uses}\""),
            ));
        }
    }
}

fn check_secrets(
    diagnostics: &mut Vec<Diagnostic>,
    caller: &Workflow,
    call: &WorkflowCallJob,
    interface: &WorkflowCall,
    context: &str,
) {
    let uses = &call.uses.value;
    let passed = match &call.secrets {
        Some(CallSecrets::Inherit(_)) => return,
        Some(CallSecrets::Map(secrets)) => Some(secrets),
        None => None,
    };
    if let Some(secrets) = passed {
        for entry in &secrets.entries {
            if interface.secrets.get(&entry.key).is_none() {
                diagnostics.push(Diagnostic::error(
                    &caller.path,
                    entry.key_pos,
                    format!(
                        "secret \"{}\" in {context} is not defined by \"{uses}\"; it defines {}",
                        entry.key,
                        names_or_none(interface.secrets.keys())
                    ),
                ));
            }
        }
    }
    for (name, secret) in interface.secrets.iter() {
        let is_passed = passed.is_some_and(|secrets| secrets.get(name).is_some());
        if secret.required && !is_passed {
            diagnostics.push(Diagnostic::error(
                &caller.path,
                call.uses.pos,
                format!(
                    "{context} does not pass the required secret \"{name}\" of \"{uses}\"; pass \
                     it under \"secrets\" or use \"secrets: inherit\""
                ),
            ));
        }
    }
}

fn names_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.map(|name| format!("\"{name}\"")).collect();
    if quoted.is_empty() {
        "none".to_string()
    } else {
        quoted.join(", ")
    }
}
