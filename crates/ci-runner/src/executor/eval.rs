//! The runner's side of expression evaluation: the contexts of a job or
//! step as JSON, and the three ways a workflow value is evaluated
//! (a template, an `if:` condition, a whole-expression value).

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
}

impl Contexts {
    pub fn set(&mut self, name: &str, value: Value) {
        self.map.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
}

/// What the status functions (`success()`, `failure()`, `cancelled()`,
/// `always()`) return at one point of a run. For a step, `success` means
/// no earlier step failed; for a job, that every job it needs succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusState {
    pub success: bool,
    pub failure: bool,
    pub cancelled: bool,
}

impl StatusState {
    /// The state after earlier steps: failed or not, cancelled or not.
    pub fn after_steps(failed: bool, cancelled: bool) -> Self {
        Self {
            success: !failed && !cancelled,
            failure: failed,
            cancelled,
        }
    }
}

// TODO: replace with ci_workflow::expr once it lands.
/// Interpolates every `${{ }}` in `text`.
pub fn template(text: &str, contexts: &Contexts) -> Result<String, EvalError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let end = after.find("}}").ok_or_else(|| EvalError {
            text: text.to_string(),
            message: "unterminated `${{`".into(),
        })?;
        let value = lookup(after[..end].trim(), contexts);
        out.push_str(&match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        });
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(path: &str, contexts: &Contexts) -> Value {
    let mut parts = path.split('.');
    let Some(first) = parts.next() else {
        return Value::Null;
    };
    let mut current = contexts.get(first).cloned().unwrap_or(Value::Null);
    for part in parts {
        current = current.get(part).cloned().unwrap_or(Value::Null);
    }
    current
}

/// Evaluates an `if:` condition.
pub fn condition(text: &str, contexts: &Contexts, status: StatusState) -> Result<bool, EvalError> {
    let text = text.trim();
    let text = text
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .unwrap_or(text)
        .trim();
    Ok(match text {
        "success()" => status.success,
        "failure()" => status.failure,
        "always()" => true,
        "cancelled()" => status.cancelled,
        "true" => true,
        "false" => false,
        other => !matches!(lookup(other, contexts), Value::Null | Value::Bool(false)),
    })
}

/// Evaluates a value that is one whole `${{ }}` expression.
pub fn value(text: &str, contexts: &Contexts) -> Result<Value, EvalError> {
    let inner = text
        .trim()
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .unwrap_or(text);
    Ok(lookup(inner.trim(), contexts))
}
