//! Strings with `${{ }}` expressions, and `if:` conditions.
//!
//! A template is literal text with embedded `${{ expression }}` parts. An
//! expression ends at the first `}}` outside a string literal, so
//! `${{ format('{{0}}', 1) }}` is one expression. Interpolation converts
//! each result with [`Value::to_display_string`] and concatenates, as
//! GitHub's runner does by turning the text into a `format()` call: an
//! array becomes `Array` and an object `Object`. A template that is only
//! one expression yielding an array or object gives its JSON instead.
//!
//! An `if:` condition is either a bare expression or a template. A template
//! that is exactly one `${{ }}` is that expression. Any text outside it, even
//! whitespace, makes the whole condition a string, as in GitHub's template
//! reader (actions/runner, `TemplateReader.cs`), so `${{ false }} && x` is the non-empty string `false && x` and
//! therefore true. A condition that calls none of `success()`, `always()`,
//! `cancelled()` and `failure()` runs as `success() && (condition)`.

use super::error::ExprError;
use super::eval::{Context, eval_value};
use super::functions::MAX_OUTPUT_BYTES;
use super::parser::{Expr, parse};
use super::value::Value;

/// A parsed template: literal text and expressions, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Expr(Expr),
}

/// The position of one `${{ }}` in a template, in characters.
struct Span {
    /// Index of the `$` of `${{`.
    open: usize,
    /// Index of the first character after `${{`.
    body_start: usize,
    /// Index of the first `}` of the closing `}}`.
    body_end: usize,
}

/// Finds the `${{ }}` spans of a template.
fn find_spans(chars: &[char]) -> Result<Vec<Span>, ExprError> {
    let mut spans = Vec::new();
    let mut position = 0;
    while position + 2 < chars.len() {
        if !(chars[position] == '$' && chars[position + 1] == '{' && chars[position + 2] == '{') {
            position += 1;
            continue;
        }
        let body_start = position + 3;
        let body_end = find_close(chars, body_start).ok_or(ExprError::UnclosedTemplate {
            column: position + 1,
        })?;
        spans.push(Span {
            open: position,
            body_start,
            body_end,
        });
        position = body_end + 2;
    }
    Ok(spans)
}

/// Finds the byte offset of the `}}` that ends an expression at the start
/// of `text`.
pub(crate) fn find_close_in(text: &str) -> Option<usize> {
    let mut in_string = false;
    let bytes = text.as_bytes();
    for (position, &byte) in bytes.iter().enumerate() {
        match byte {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes.get(position + 1) == Some(&b'}') => return Some(position),
            _ => {}
        }
    }
    None
}

/// Finds the `}}` that ends an expression starting at `start`, skipping
/// string literals (where `''` is an escaped quote and needs no special
/// handling: it closes and reopens the literal).
fn find_close(chars: &[char], start: usize) -> Option<usize> {
    let mut in_string = false;
    let mut position = start;
    while position < chars.len() {
        match chars[position] {
            '\'' => in_string = !in_string,
            '}' if !in_string && chars.get(position + 1) == Some(&'}') => return Some(position),
            _ => {}
        }
        position += 1;
    }
    None
}

impl Template {
    /// Parses a template, checking the syntax of every expression. Error
    /// columns count from the start of the template.
    pub fn parse(template: &str) -> Result<Template, ExprError> {
        let chars: Vec<char> = template.chars().collect();
        let mut parts = Vec::new();
        let mut text_start = 0;
        for span in find_spans(&chars)? {
            if span.open > text_start {
                parts.push(Part::Text(chars[text_start..span.open].iter().collect()));
            }
            let source: String = chars[span.body_start..span.body_end].iter().collect();
            let expr = parse(&source).map_err(|error| error.shift_column(span.body_start))?;
            parts.push(Part::Expr(expr));
            text_start = span.body_end + 2;
        }
        if text_start < chars.len() {
            parts.push(Part::Text(chars[text_start..].iter().collect()));
        }
        Ok(Template { parts })
    }

    /// Returns whether the template contains any `${{ }}` expression.
    pub fn has_expressions(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::Expr(_)))
    }

    /// Returns the expressions of the template, in order.
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|part| match part {
            Part::Expr(expr) => Some(expr),
            Part::Text(_) => None,
        })
    }

    /// Returns the expression when the template is exactly one `${{ }}`,
    /// with no text around it.
    pub fn single_expression(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(expr)] => Some(expr),
            _ => None,
        }
    }

    /// Returns the expression when the template is exactly one `${{ }}`,
    /// else the template itself.
    pub fn into_single_expression(mut self) -> Result<Expr, Template> {
        if self.single_expression().is_none() {
            return Err(self);
        }
        match self.parts.pop() {
            Some(Part::Expr(expr)) => Ok(expr),
            _ => unreachable!("the only part is an expression"),
        }
    }

    /// Evaluates every expression and concatenates the results with the
    /// literal text. A template that is exactly one `${{ }}` yielding an
    /// array or object gives its JSON, where GitHub would reject the value.
    pub fn interpolate(&self, context: &Context) -> Result<String, ExprError> {
        if let Some(expr) = self.single_expression() {
            let value = eval_value(expr, context)?;
            if matches!(*value, Value::Array(_) | Value::Object(_)) {
                return Ok(value.to_json_pretty());
            }
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Expr(expr) => out.push_str(&eval_value(expr, context)?.to_display_string()),
            }
            if out.len() > MAX_OUTPUT_BYTES {
                return Err(ExprError::OutputTooLarge {
                    operation: "interpolation",
                    max: MAX_OUTPUT_BYTES,
                });
            }
        }
        Ok(out)
    }

    /// Evaluates the template to a value: the expression's own value when
    /// the template is exactly one `${{ }}`, the text itself when it has no
    /// expressions, and the interpolated string otherwise.
    pub fn evaluate(&self, context: &Context) -> Result<Value, ExprError> {
        match self.single_expression() {
            Some(expr) => Ok(eval_value(expr, context)?.into_owned()),
            None => self.interpolate(context).map(Value::String),
        }
    }
}

/// Replaces every `${{ expression }}` in `template` with its value.
pub fn interpolate(template: &str, context: &Context) -> Result<String, ExprError> {
    Template::parse(template)?.interpolate(context)
}

/// Evaluates a template to a value, keeping the type when the template is
/// exactly one `${{ }}` (see [`Template::evaluate`]).
pub fn evaluate_template(template: &str, context: &Context) -> Result<Value, ExprError> {
    Template::parse(template)?.evaluate(context)
}

/// Checks the syntax of every `${{ }}` in `template` without evaluating.
/// Error columns count from the start of the template.
pub fn check_template_syntax(template: &str) -> Result<(), ExprError> {
    Template::parse(template).map(|_| ())
}

/// A parsed `if:` condition, to evaluate many times.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    body: ConditionBody,
    needs_success: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum ConditionBody {
    /// No condition text: `success()` alone decides.
    Empty,
    Expr(Expr),
    /// Text with literal parts around its `${{ }}`, which is a string.
    Template(Template),
}

impl Condition {
    /// Parses the text of an `if:` key.
    pub fn parse(if_text: &str) -> Result<Condition, ExprError> {
        let body = if if_text.trim().is_empty() {
            ConditionBody::Empty
        } else if if_text.contains("${{") {
            match Template::parse(if_text)?.into_single_expression() {
                Ok(expr) => ConditionBody::Expr(expr),
                Err(template) => ConditionBody::Template(template),
            }
        } else {
            ConditionBody::Expr(parse(if_text)?)
        };
        let needs_success = match &body {
            ConditionBody::Empty => true,
            ConditionBody::Expr(expr) => !expr.contains_status_function(),
            ConditionBody::Template(template) => {
                !template.expressions().any(Expr::contains_status_function)
            }
        };
        Ok(Condition {
            body,
            needs_success,
        })
    }

    /// Whether the condition is implicitly `success() && (...)` because it
    /// calls no status function.
    pub fn needs_success(&self) -> bool {
        self.needs_success
    }

    /// Evaluates the condition. With the implicit `success()` false, the
    /// condition text is not evaluated, as on GitHub.
    pub fn evaluate(&self, context: &Context) -> Result<bool, ExprError> {
        if self.needs_success && !context.status().success() {
            return Ok(false);
        }
        match &self.body {
            ConditionBody::Empty => Ok(true),
            ConditionBody::Expr(expr) => Ok(eval_value(expr, context)?.is_truthy()),
            ConditionBody::Template(template) => Ok(!template.interpolate(context)?.is_empty()),
        }
    }
}

/// Parses and evaluates an `if:` condition once. To evaluate the same
/// condition repeatedly, keep a [`Condition`].
pub fn evaluate_condition(if_text: &str, context: &Context) -> Result<bool, ExprError> {
    Condition::parse(if_text)?.evaluate(context)
}
