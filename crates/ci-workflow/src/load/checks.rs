//! Checks across a whole workflow once its parts are read: step ids,
//! references between jobs through `needs`.

use std::collections::{HashMap, HashSet};

use super::contexts;
use super::reader::{Reader, is_identifier};
use super::references;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::graph::{GraphError, JobGraph};
use crate::matrix::{self, MatrixError};
use crate::model::{Job, Matrix, Workflow};
use crate::plan::literal_matrix;
use crate::yaml::{Node, ScalarStyle, Value};

/// Runs every cross-cutting check on a read workflow.
pub(super) fn check_workflow(reader: &mut Reader, workflow: &Workflow) {
    let job_ids: HashSet<&str> = workflow.jobs.keys().collect();
    for job in workflow.jobs.iter().map(|(_, job)| job) {
        check_step_ids(reader, job);
        check_needs(reader, workflow, &job_ids, job);
        check_matrix(reader, job);
        references::check_references(reader, job);
    }
    contexts::check_contexts(reader, workflow);
}

/// Finds a cycle in the `needs` of a loaded workflow and returns an error
/// at the `needs` entry where the cycle closes.
///
/// NOTE: loading does not run this check, so that the planner can report
/// cycles itself (`graph::GraphError::Cycle`); `htci check` runs it to
/// give the cycle a position. Self-references and unknown jobs are load
/// errors already, so a loaded workflow has only longer cycles.
pub fn check_needs_cycles(workflow: &Workflow) -> Option<Diagnostic> {
    let jobs = workflow.jobs.iter().map(|(id, job)| {
        let needs: Vec<&str> = job.needs.iter().map(|need| need.value.as_str()).collect();
        (id, needs)
    });
    let Err(GraphError::Cycle { cycle }) = JobGraph::new(jobs) else {
        return None;
    };
    let (first, second) = (cycle.first()?, cycle.get(1)?);
    let pos = workflow
        .jobs
        .get(first)
        .and_then(|job| job.needs.iter().find(|need| &need.value == second))
        .map_or(workflow.on.pos, |need| need.pos);
    Some(Diagnostic::error(
        &workflow.path,
        pos,
        format!(
            "jobs form a cycle through \"needs\": {}; no job of a cycle can start",
            cycle.join(" -> ")
        ),
    ))
}

/// Expands a matrix written without `${{ }}` as the planner would, so
/// that a matrix GitHub rejects (more than 256 jobs, an `exclude` key that
/// is not an axis) fails the check instead of the run. A matrix with
/// expressions can only be expanded when the job runs.
fn check_matrix(reader: &mut Reader, job: &Job) {
    let Some(matrix) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) else {
        return;
    };
    let (Matrix::Axes(axes), Some(value)) = (matrix, literal_matrix(matrix)) else {
        return;
    };
    if axes.axes.is_empty() && axes.include.is_none() {
        // The loader has reported that the matrix has nothing to expand.
        return;
    }
    let Err(error) = matrix::expand(&value) else {
        return;
    };
    // The loader has already reported a matrix of the wrong shape, such as
    // an empty axis or an entry that is not a mapping.
    let is_expansion_error = matches!(
        error,
        MatrixError::DuplicateKey { .. }
            | MatrixError::UnknownExcludeKey { .. }
            | MatrixError::ProductTooLarge { .. }
            | MatrixError::TooManyCombinations { .. }
            | MatrixError::EmptyAfterExclude
    );
    if is_expansion_error {
        reader.error(
            axes.pos,
            format!("the matrix of job \"{}\" is invalid: {error}", job.id),
        );
    }
}

/// Step ids must be identifiers, must not use the `__` prefix that GitHub
/// reserves for ids it generates, and must be unique within their job.
fn check_step_ids(reader: &mut Reader, job: &Job) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for step in job.steps() {
        let Some(id) = &step.id else { continue };
        let context = format!("step {} of job \"{}\"", step.index + 1, job.id);
        if !is_identifier(&id.value) {
            reader.error(
                id.pos,
                format!(
                    "invalid step id \"{}\" in {context}: an id must start with a letter or \"_\" \
                     and contain only letters, digits, \"-\" and \"_\"",
                    id.value
                ),
            );
        } else if id.value.starts_with("__") {
            reader.error(
                id.pos,
                format!(
                    "invalid step id \"{}\" in {context}: ids starting with \"__\" are reserved",
                    id.value
                ),
            );
        }
        match seen.get(id.value.as_str()) {
            Some(first_line) => reader.error(
                id.pos,
                format!(
                    "duplicate step id \"{}\" in job \"{}\" (first used at line {first_line})",
                    id.value, job.id
                ),
            ),
            None => {
                seen.insert(&id.value, id.pos.line);
            }
        }
    }
}

/// Every `needs` entry must name another job of the workflow.
fn check_needs(reader: &mut Reader, workflow: &Workflow, job_ids: &HashSet<&str>, job: &Job) {
    for need in &job.needs {
        if need.value == job.id {
            reader.error(need.pos, format!("job \"{}\" needs itself", job.id));
            continue;
        }
        if job_ids.contains(need.value.as_str()) {
            continue;
        }
        let message = match did_you_mean(&need.value, workflow.jobs.keys()) {
            Some(suggestion) => format!(
                "job \"{}\" needs unknown job \"{}\", did you mean \"{suggestion}\"?",
                job.id, need.value
            ),
            None => format!("job \"{}\" needs unknown job \"{}\"", job.id, need.value),
        };
        reader.error(need.pos, message);
    }
}

/// Reports every YAML merge key (`<<: *anchor`): GitHub rejects them, and
/// reading `<<` as an ordinary key would silently drop the merged keys.
/// Recursion depth is bounded by the parser's depth limit.
pub(super) fn check_merge_keys(reader: &mut Reader, node: &Node) {
    match &node.value {
        Value::Scalar(_) => {}
        Value::Sequence(items) => {
            for item in items {
                check_merge_keys(reader, item);
            }
        }
        Value::Mapping(entries) => {
            for (key, value) in entries {
                if is_merge_key(key) {
                    reader.error(
                        key.pos,
                        "merge keys (\"<<\") are not supported by GitHub Actions; alias the \
                         whole value or write the keys out",
                    );
                }
                check_merge_keys(reader, value);
            }
        }
    }
}

/// Returns true for a plain `<<` key.
pub(super) fn is_merge_key(key: &Node) -> bool {
    key.as_scalar()
        .is_some_and(|scalar| scalar.style == ScalarStyle::Plain && scalar.text == "<<")
}
