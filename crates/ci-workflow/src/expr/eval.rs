//! Evaluates a parsed [`Expr`] against a [`Context`].
//!
//! The evaluator recurses along the tree, whose height the parser bounds.
//! Context values are borrowed rather than copied wherever an operator only
//! passes them through, so `github.event.pull_request.head.ref` copies one
//! string, not the event.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::ExprError;
use super::functions;
use super::parser::{CompareOp, Expr};
use super::value::{
    Value, loose_equal, loose_greater, loose_greater_equal, loose_less, loose_less_equal,
};

/// The result of a job or step, as the status functions see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobStatus {
    #[default]
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl JobStatus {
    /// Parses GitHub's lower-case spelling: `success`, `failure`,
    /// `cancelled` or `skipped`.
    pub fn parse(text: &str) -> Option<JobStatus> {
        match text {
            "success" => Some(JobStatus::Success),
            "failure" => Some(JobStatus::Failure),
            "cancelled" => Some(JobStatus::Cancelled),
            "skipped" => Some(JobStatus::Skipped),
            _ => None,
        }
    }
}

/// The scope of the status functions `success()`, `failure()` and
/// `cancelled()`: a step or a job condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusScope {
    /// A step's `if:`: the status of the job so far, which turns to failure
    /// when an earlier step fails.
    Step { job_status: JobStatus },
    /// A job's `if:`: the results of every job it depends on, directly or
    /// through other jobs.
    Job { dependency_results: Vec<JobStatus> },
}

impl Default for StatusScope {
    fn default() -> Self {
        StatusScope::Step {
            job_status: JobStatus::Success,
        }
    }
}

/// The inputs of the status functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusInputs {
    /// Whether the workflow run was cancelled.
    pub cancelled: bool,
    /// Whether a step or a job condition is being evaluated.
    pub scope: StatusScope,
}

impl StatusInputs {
    /// Inputs for a step condition.
    pub fn step(job_status: JobStatus, cancelled: bool) -> Self {
        StatusInputs {
            cancelled,
            scope: StatusScope::Step { job_status },
        }
    }

    /// Inputs for a job condition, from the results of the jobs it depends
    /// on directly or transitively.
    pub fn job(dependency_results: impl IntoIterator<Item = JobStatus>, cancelled: bool) -> Self {
        StatusInputs {
            cancelled,
            scope: StatusScope::Job {
                dependency_results: dependency_results.into_iter().collect(),
            },
        }
    }

    /// `success()`: nothing before has failed, been cancelled or been
    /// skipped, and the run is not cancelled.
    pub fn success(&self) -> bool {
        if self.cancelled {
            return false;
        }
        match &self.scope {
            StatusScope::Step { job_status } => *job_status == JobStatus::Success,
            StatusScope::Job { dependency_results } => dependency_results
                .iter()
                .all(|result| *result == JobStatus::Success),
        }
    }

    /// `failure()`: an earlier step of the job, or a job this one depends
    /// on, has failed.
    pub fn failure(&self) -> bool {
        match &self.scope {
            StatusScope::Step { job_status } => *job_status == JobStatus::Failure,
            StatusScope::Job { dependency_results } => {
                dependency_results.contains(&JobStatus::Failure)
            }
        }
    }

    /// `cancelled()`: the workflow run was cancelled.
    pub fn cancelled(&self) -> bool {
        self.cancelled
    }
}

/// Everything an expression can read: the named contexts, the workspace that
/// `hashFiles` searches, and the inputs of the status functions. Its `Debug`
/// output lists the names of the contexts without their values, which may
/// contain secrets.
#[derive(Clone, Default)]
pub struct Context {
    named_values: HashMap<String, Value>,
    workspace: Option<PathBuf>,
    status: StatusInputs,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.named_values.keys().map(String::as_str).collect();
        names.sort_unstable();
        formatter
            .debug_struct("Context")
            .field("named_values", &names)
            .field("workspace", &self.workspace)
            .field("status", &self.status)
            .finish()
    }
}

/// Another name for [`Context`].
pub type EvalContext = Context;

impl Context {
    /// Creates a context with no named values, no workspace and a
    /// successful step status.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a named value such as `github` or `matrix`. The name is matched
    /// ignoring case.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.named_values
            .insert(name.to_ascii_lowercase(), value.into());
        self
    }

    /// Sets a named value, builder style.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Returns the named value, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.named_values.get(&name.to_ascii_lowercase())
    }

    /// Sets the directory `hashFiles` searches. Files outside it are never
    /// read. Without it, `hashFiles` searches `github.workspace`.
    pub fn set_workspace(&mut self, workspace: impl Into<PathBuf>) -> &mut Self {
        self.workspace = Some(workspace.into());
        self
    }

    /// Sets the workspace, builder style.
    pub fn with_workspace(mut self, workspace: impl Into<PathBuf>) -> Self {
        self.set_workspace(workspace);
        self
    }

    /// Returns the directory `hashFiles` searches.
    pub fn workspace(&self) -> Option<&Path> {
        self.workspace.as_deref()
    }

    /// Sets the inputs of the status functions.
    pub fn set_status(&mut self, status: StatusInputs) -> &mut Self {
        self.status = status;
        self
    }

    /// Sets the inputs of the status functions, builder style.
    pub fn with_status(mut self, status: StatusInputs) -> Self {
        self.status = status;
        self
    }

    /// Returns the inputs of the status functions.
    pub fn status(&self) -> &StatusInputs {
        &self.status
    }
}

/// Evaluates a parsed expression.
pub fn evaluate(expr: &Expr, context: &Context) -> Result<Value, ExprError> {
    Ok(eval(expr, context)?.into_value().into_owned())
}

/// An intermediate result: a value, or the array a `*` filter produced.
/// Property access on a filtered array applies to each element, which is
/// how `needs.*.result` yields one result per job.
pub(crate) enum Evaluated<'a> {
    Value(Cow<'a, Value>),
    Filtered(Vec<Value>),
}

impl<'a> Evaluated<'a> {
    pub(crate) fn into_value(self) -> Cow<'a, Value> {
        match self {
            Evaluated::Value(value) => value,
            Evaluated::Filtered(items) => Cow::Owned(Value::array(items)),
        }
    }
}

/// Evaluates `expr` to a value.
pub(crate) fn eval_value<'a>(
    expr: &'a Expr,
    context: &'a Context,
) -> Result<Cow<'a, Value>, ExprError> {
    Ok(eval(expr, context)?.into_value())
}

fn eval<'a>(expr: &'a Expr, context: &'a Context) -> Result<Evaluated<'a>, ExprError> {
    let value = match expr {
        Expr::Literal(value) => Cow::Borrowed(value),
        Expr::NamedValue(name) => match context.named_values.get(name) {
            Some(value) => Cow::Borrowed(value),
            None => Cow::Owned(Value::Null),
        },
        Expr::Index { target, index } => return eval_index(target, index, context),
        Expr::Wildcard(target) => return eval_wildcard(target, context),
        Expr::Not(operand) => Cow::Owned(Value::Bool(!eval_value(operand, context)?.is_truthy())),
        Expr::Compare { op, left, right } => {
            let left = eval_value(left, context)?;
            let right = eval_value(right, context)?;
            Cow::Owned(Value::Bool(compare(*op, &left, &right)))
        }
        Expr::And(operands) => eval_logical(operands, context, false)?,
        Expr::Or(operands) => eval_logical(operands, context, true)?,
        Expr::Call { function, args } => functions::call(*function, args, context)?,
    };
    Ok(Evaluated::Value(value))
}

fn compare(op: CompareOp, left: &Value, right: &Value) -> bool {
    match op {
        CompareOp::Equal => loose_equal(left, right),
        CompareOp::NotEqual => !loose_equal(left, right),
        CompareOp::Less => loose_less(left, right),
        CompareOp::LessEqual => loose_less_equal(left, right),
        CompareOp::Greater => loose_greater(left, right),
        CompareOp::GreaterEqual => loose_greater_equal(left, right),
    }
}

/// Evaluates `&&` (`stop_when` false) or `||` (`stop_when` true): returns the
/// first operand whose truthiness equals `stop_when`, else the last operand.
fn eval_logical<'a>(
    operands: &'a [Expr],
    context: &'a Context,
    stop_when: bool,
) -> Result<Cow<'a, Value>, ExprError> {
    let mut last = Cow::Owned(Value::Null);
    for operand in operands {
        last = eval_value(operand, context)?;
        if last.is_truthy() == stop_when {
            break;
        }
    }
    Ok(last)
}

fn eval_index<'a>(
    target: &'a Expr,
    index: &'a Expr,
    context: &'a Context,
) -> Result<Evaluated<'a>, ExprError> {
    let target = eval(target, context)?;
    let index = eval_value(index, context)?;
    let key = IndexKey::new(&index);
    match target {
        Evaluated::Filtered(items) => {
            let selected = items
                .iter()
                .filter_map(|item| key.lookup(item))
                .cloned()
                .collect();
            Ok(Evaluated::Filtered(selected))
        }
        Evaluated::Value(Cow::Borrowed(value)) => {
            let found = key
                .lookup(value)
                .map_or(Cow::Owned(Value::Null), Cow::Borrowed);
            Ok(Evaluated::Value(found))
        }
        Evaluated::Value(Cow::Owned(value)) => {
            let found = key.lookup(&value).cloned().unwrap_or(Value::Null);
            Ok(Evaluated::Value(Cow::Owned(found)))
        }
    }
}

fn eval_wildcard<'a>(target: &'a Expr, context: &'a Context) -> Result<Evaluated<'a>, ExprError> {
    let selected = match eval(target, context)? {
        Evaluated::Filtered(items) => {
            let mut selected = Vec::new();
            for item in &items {
                push_children(item, &mut selected);
            }
            selected
        }
        Evaluated::Value(value) => {
            let mut selected = Vec::new();
            push_children(&value, &mut selected);
            selected
        }
    };
    Ok(Evaluated::Filtered(selected))
}

/// Appends the elements of an array or the property values of an object.
/// Other values have no children.
fn push_children(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => out.extend(items.iter().cloned()),
        Value::Object(object) => out.extend(object.values().cloned()),
        _ => {}
    }
}

/// An index converted once for both kinds of container: the string key for
/// objects and the integer position for arrays.
struct IndexKey {
    key: Option<String>,
    position: Option<usize>,
}

impl IndexKey {
    /// Converts an index as GitHub does: any primitive works as an object key
    /// through its string form, and a finite non-negative number (or a
    /// string holding one) works as an array position, rounded down.
    fn new(index: &Value) -> Self {
        let key = index.is_primitive().then(|| index.to_display_string());
        let number = index.to_number();
        let position = (number.is_finite() && number >= 0.0).then(|| number.floor() as usize);
        IndexKey { key, position }
    }

    fn lookup<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        match value {
            Value::Object(object) => object.get(self.key.as_deref()?),
            Value::Array(items) => items.get(self.position?),
            _ => None,
        }
    }
}
