//! The runner's side of expression evaluation: the contexts of a job or
//! step as JSON, and the three ways a workflow value is evaluated
//! (a template, an `if:` condition, a whole-expression value).

use ci_workflow::expr::{self, Context, JobStatus, StatusInputs, Value as ExprValue};
use serde_json::{Map, Value};

/// Error of evaluating one workflow value; the message names the text.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("failed to evaluate `{text}`: {message}")]
pub struct EvalError {
    pub text: String,
    pub message: String,
}

/// The named contexts (`github`, `env`, `steps`, ...) as JSON objects.
#[derive(Debug, Clone, Default)]
pub struct Contexts {
    pub map: Map<String, Value>,
    /// Host directory that `hashFiles()` searches: the job's workspace.
    pub workspace: Option<std::path::PathBuf>,
}

impl Contexts {
    pub fn set(&mut self, name: &str, value: Value) {
        self.map.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
}

/// Inputs of the status functions (`success()`, `failure()`,
/// `cancelled()`, `always()`) at one point of a run.
pub type StatusState = StatusInputs;

/// Returns the status inputs of a step: whether an earlier step failed and
/// whether the run was cancelled.
pub fn after_steps(failed: bool, cancelled: bool) -> StatusState {
    let job_status = if failed {
        JobStatus::Failure
    } else {
        JobStatus::Success
    };
    StatusInputs::step(job_status, cancelled)
}

/// Converts a result status for the status functions of a job condition.
pub fn job_status(status: ci_core::status::Status) -> JobStatus {
    use ci_core::status::Status;

    match status {
        Status::Failure => JobStatus::Failure,
        Status::Cancelled => JobStatus::Cancelled,
        Status::Skipped => JobStatus::Skipped,
        Status::Success | Status::Queued | Status::Running => JobStatus::Success,
    }
}

/// Builds the expression evaluator's context from `contexts`, plus the
/// status inputs when given.
pub(crate) fn expr_context(contexts: &Contexts, status: Option<StatusState>) -> Context {
    let mut context = Context::new();
    for (name, value) in &contexts.map {
        context.set(name, ExprValue::from_json(value));
    }
    if let Some(status) = status {
        context.set_status(status);
    }
    if let Some(workspace) = &contexts.workspace {
        context.set_workspace(workspace);
    }
    context
}

fn error(text: &str, error: impl std::fmt::Display) -> EvalError {
    EvalError {
        text: text.to_string(),
        message: error.to_string(),
    }
}

/// Interpolates every `${{ }}` in `text`.
pub fn template(text: &str, contexts: &Contexts) -> Result<String, EvalError> {
    if !text.contains("${{") {
        return Ok(text.to_string());
    }
    expr::interpolate(text, &expr_context(contexts, None)).map_err(|e| error(text, e))
}

/// Evaluates an `if:` condition, with GitHub's implicit `success() &&`
/// when it calls no status function.
pub fn condition(text: &str, contexts: &Contexts, status: StatusState) -> Result<bool, EvalError> {
    expr::evaluate_condition(text, &expr_context(contexts, Some(status)))
        .map_err(|e| error(text, e))
}

/// Evaluates a value: the expression's own value (typed) when `text` is one
/// `${{ }}`, else the interpolated string.
pub fn value(text: &str, contexts: &Contexts) -> Result<Value, EvalError> {
    expr::evaluate_template(text, &expr_context(contexts, None))
        .map(|value| value.to_json())
        .map_err(|e| error(text, e))
}
