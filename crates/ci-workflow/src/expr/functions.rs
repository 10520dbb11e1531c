//! The built-in functions.
//!
//! String functions compare ignoring case and convert their arguments with
//! [`Value::to_display_string`]. Functions that build strings (`format`,
//! `join`, `toJSON`) stop at [`MAX_OUTPUT_BYTES`], so that a short
//! expression cannot produce an enormous string.

use std::borrow::Cow;
use std::path::PathBuf;

use super::error::ExprError;
use super::eval::{Context, eval_value};
use super::hash_files::hash_files;
use super::parser::{Expr, Function};
use super::value::{Value, fold_case, loose_equal};

/// The maximum length in bytes of a string that a function or an
/// interpolation builds: 10 MiB.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;

/// Evaluates the arguments and calls `function`.
pub(crate) fn call<'a>(
    function: Function,
    args: &'a [Expr],
    context: &'a Context,
) -> Result<Cow<'a, Value>, ExprError> {
    let status = context.status();
    let result = match function {
        Function::Success => Value::Bool(status.success()),
        Function::Always => Value::Bool(true),
        Function::Cancelled => Value::Bool(status.cancelled()),
        Function::Failure => Value::Bool(status.failure()),
        Function::Case => return case(args, context),
        Function::Format => Value::String(format(args, context)?),
        _ => {
            let values = args
                .iter()
                .map(|arg| eval_value(arg, context))
                .collect::<Result<Vec<_>, _>>()?;
            call_with_values(function, &values, context)?
        }
    };
    Ok(Cow::Owned(result))
}

fn call_with_values(
    function: Function,
    args: &[Cow<'_, Value>],
    context: &Context,
) -> Result<Value, ExprError> {
    match function {
        Function::Contains => Ok(Value::Bool(contains(&args[0], &args[1]))),
        Function::StartsWith => Ok(Value::Bool(affix(&args[0], &args[1], |text, prefix| {
            text.starts_with(prefix)
        }))),
        Function::EndsWith => Ok(Value::Bool(affix(&args[0], &args[1], |text, suffix| {
            text.ends_with(suffix)
        }))),
        Function::Join => join(&args[0], args.get(1).map(|sep| sep.as_ref())).map(Value::String),
        Function::ToJson => to_json(&args[0]).map(Value::String),
        Function::FromJson => from_json(&args[0]),
        Function::HashFiles => {
            let arguments: Vec<String> = args.iter().map(|arg| arg.to_display_string()).collect();
            hash_files(workspace(context).as_deref(), &arguments).map(Value::String)
        }
        Function::Success
        | Function::Always
        | Function::Cancelled
        | Function::Failure
        | Function::Case
        | Function::Format => {
            unreachable!("status functions, case and format evaluate their own arguments")
        }
    }
}

/// The directory `hashFiles` searches: the context's workspace, else
/// `github.workspace`, which is where GitHub's runner looks.
fn workspace(context: &Context) -> Option<PathBuf> {
    if let Some(workspace) = context.workspace() {
        return Some(workspace.to_owned());
    }
    let github = context.get("github")?;
    github.get("workspace")?.as_str().map(PathBuf::from)
}

/// `case(predicate1, value1, ..., default)`: the value after the first
/// predicate that is `true`, else the last argument. Every predicate must be
/// a boolean. Arguments are evaluated only as far as needed.
fn case<'a>(args: &'a [Expr], context: &'a Context) -> Result<Cow<'a, Value>, ExprError> {
    let (default, pairs) = args
        .split_last()
        .expect("the parser requires at least 3 arguments");
    for (number, pair) in pairs.chunks(2).enumerate() {
        let predicate = eval_value(&pair[0], context)?;
        match predicate.as_ref() {
            Value::Bool(true) => return eval_value(&pair[1], context),
            Value::Bool(false) => {}
            other => {
                return Err(ExprError::Function {
                    function: "case",
                    message: format!(
                        "predicate {} is a {}, but predicates must be booleans; \
                         compare it, for example with ==",
                        number + 1,
                        other.kind().name()
                    ),
                });
            }
        }
    }
    eval_value(default, context)
}

/// `contains(search, item)`. An array contains `item` when an element equals
/// it by `==`. A primitive contains a primitive `item` when its string form
/// contains the string form of `item`, ignoring case. An object contains
/// nothing, and a primitive contains no array or object.
fn contains(search: &Value, item: &Value) -> bool {
    match search {
        Value::Array(items) => items.iter().any(|element| loose_equal(element, item)),
        Value::Object(_) => false,
        _ if !item.is_primitive() => false,
        primitive => {
            let haystack = fold_case(&primitive.to_display_string());
            let needle = fold_case(&item.to_display_string());
            haystack.contains(&needle)
        }
    }
}

/// `startsWith` and `endsWith`: both arguments must be primitives; their
/// string forms are compared ignoring case.
fn affix(text: &Value, affix: &Value, test: fn(&str, &str) -> bool) -> bool {
    if !text.is_primitive() || !affix.is_primitive() {
        return false;
    }
    let text = fold_case(&text.to_display_string());
    let affix = fold_case(&affix.to_display_string());
    test(&text, &affix)
}

/// A string under construction that fails once it passes
/// [`MAX_OUTPUT_BYTES`].
struct BoundedString {
    text: String,
    operation: &'static str,
}

impl BoundedString {
    fn new(operation: &'static str) -> Self {
        BoundedString {
            text: String::new(),
            operation,
        }
    }

    fn push_str(&mut self, part: &str) -> Result<(), ExprError> {
        if self.text.len() + part.len() > MAX_OUTPUT_BYTES {
            return Err(ExprError::OutputTooLarge {
                operation: self.operation,
                max: MAX_OUTPUT_BYTES,
            });
        }
        self.text.push_str(part);
        Ok(())
    }

    fn push(&mut self, c: char) -> Result<(), ExprError> {
        self.push_str(c.encode_utf8(&mut [0; 4]))
    }
}

/// `format(text, args...)`: replaces `{N}` with the string form of argument
/// N (counting from 0), `{{` with `{` and `}}` with `}`. Any other brace is
/// an error, as is an index past the last argument. As in GitHub's runner,
/// the whole format string is checked first, and then only the arguments it
/// references are evaluated.
fn format<'a>(args: &'a [Expr], context: &'a Context) -> Result<String, ExprError> {
    let template = eval_value(&args[0], context)?.to_display_string();
    // A format string that comes from a context may be a secret, so error
    // messages quote only a literal one.
    let quoted = match &args[0] {
        Expr::Literal(_) => format!(" '{template}'"),
        _ => String::new(),
    };
    let segments = parse_format(&template, args.len() - 1, &quoted)?;

    let mut cache: Vec<Option<String>> = vec![None; args.len() - 1];
    let mut out = BoundedString::new("format");
    for segment in segments {
        match segment {
            FormatSegment::Text(text) => out.push_str(text)?,
            FormatSegment::Brace(brace) => out.push(brace)?,
            FormatSegment::Arg(index) => {
                if cache[index].is_none() {
                    let value = eval_value(&args[index + 1], context)?;
                    cache[index] = Some(value.to_display_string());
                }
                out.push_str(cache[index].as_deref().unwrap_or_default())?;
            }
        }
    }
    Ok(out.text)
}

/// A piece of a parsed format string.
enum FormatSegment<'t> {
    Text(&'t str),
    /// An escaped `{` or `}`.
    Brace(char),
    /// A `{N}` placeholder, by argument index.
    Arg(usize),
}

/// Splits a format string into text, escaped braces and placeholders,
/// checking every placeholder against the `arg_count` arguments.
fn parse_format<'t>(
    template: &'t str,
    arg_count: usize,
    quoted: &str,
) -> Result<Vec<FormatSegment<'t>>, ExprError> {
    let invalid = |offset: usize, reason: &str| ExprError::Function {
        function: "format",
        message: format!(
            "invalid format string{quoted}: {reason} at character {}; \
             write '{{{{' and '}}}}' for literal braces",
            template[..offset].chars().count() + 1
        ),
    };

    let bytes = template.as_bytes();
    let mut segments = Vec::new();
    let mut text_start = 0;
    let mut offset = 0;
    while offset < bytes.len() {
        let brace = bytes[offset];
        if brace != b'{' && brace != b'}' {
            offset += 1;
            continue;
        }
        if text_start < offset {
            segments.push(FormatSegment::Text(&template[text_start..offset]));
        }
        if bytes.get(offset + 1) == Some(&brace) {
            segments.push(FormatSegment::Brace(char::from(brace)));
            offset += 2;
        } else if brace == b'}' {
            return Err(invalid(offset, "unmatched '}'"));
        } else {
            let digits = bytes[offset + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let close = offset + 1 + digits;
            if digits == 0 || bytes.get(close) != Some(&b'}') {
                return Err(invalid(offset, "expected '{N}' with a number N"));
            }
            let digits = &template[offset + 1..close];
            let index = digits
                .parse::<usize>()
                .ok()
                .filter(|index| *index < arg_count)
                .ok_or_else(|| ExprError::Function {
                    function: "format",
                    message: format!(
                        "format string{quoted} references {{{digits}}} but only {arg_count} \
                         argument(s) follow it"
                    ),
                })?;
            segments.push(FormatSegment::Arg(index));
            offset = close + 1;
        }
        text_start = offset;
    }
    if text_start < bytes.len() {
        segments.push(FormatSegment::Text(&template[text_start..]));
    }
    Ok(segments)
}

/// `join(array, separator)`: the string forms of the elements joined with
/// the separator (`,` by default). A primitive joins to its own string form.
fn join(items: &Value, separator: Option<&Value>) -> Result<String, ExprError> {
    let separator = match separator {
        Some(separator) if separator.is_primitive() => separator.to_display_string(),
        _ => ",".to_owned(),
    };
    match items {
        Value::Array(items) => {
            let mut out = BoundedString::new("join");
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push_str(&separator)?;
                }
                out.push_str(&item.to_display_string())?;
            }
            Ok(out.text)
        }
        Value::Object(_) => Ok(String::new()),
        primitive => Ok(primitive.to_display_string()),
    }
}

/// `toJSON(value)`: pretty-printed JSON.
fn to_json(value: &Value) -> Result<String, ExprError> {
    let json = value.to_json_pretty();
    if json.len() > MAX_OUTPUT_BYTES {
        return Err(ExprError::OutputTooLarge {
            operation: "toJSON",
            max: MAX_OUTPUT_BYTES,
        });
    }
    Ok(json)
}

/// `fromJSON(text)`: parses the JSON value at the start of `text`.
fn from_json(text: &Value) -> Result<Value, ExprError> {
    let text = text.to_display_string();
    if text.trim().is_empty() {
        return Err(ExprError::Function {
            function: "fromJSON",
            message: "the input is empty; pass a JSON document such as '{\"a\": 1}' or '[1, 2]'"
                .to_owned(),
        });
    }
    // GitHub's runner reads the first JSON value and ignores what follows
    // it, so `fromJSON('1 2')` is 1 there too.
    // NOTE: GitHub parses with Newtonsoft.Json, which also accepts NaN,
    // comments and single-quoted strings; this parser rejects them.
    let first = serde_json::Deserializer::from_str(&text)
        .into_iter::<serde_json::Value>()
        .next();
    match first {
        Some(Ok(json)) => Ok(Value::from_json(&json)),
        Some(Err(error)) => Err(ExprError::Function {
            function: "fromJSON",
            message: format!("invalid JSON: {error}"),
        }),
        None => unreachable!("the text is not blank, so it contains a value or an error"),
    }
}
