//! `htci expr`: evaluates one `${{ }}` expression and prints the result as
//! JSON, for trying out conditions and contexts without running a workflow.

use std::path::PathBuf;
use std::process::ExitCode;

use ci_workflow::expr::{
    Context, ExprError, NAMED_VALUES, Value, evaluate_str, evaluate_template, parse,
    strip_delimiters,
};
use clap::Args;

use super::check::write_stdout;

/// Exit status for an invalid expression, context or evaluation error.
const EXIT_INVALID: u8 = 2;

#[derive(Args)]
pub struct ExprArgs {
    /// The expression, with or without the surrounding `${{ }}`. Text
    /// around `${{ }}` makes it a template, printed as the interpolated
    /// string.
    #[arg(allow_hyphen_values = true)]
    pub expression: String,

    /// A context value as NAME=JSON, for example `matrix={"os":"linux"}`,
    /// or NAME=@FILE to read the JSON from a file. Repeat the option for
    /// several contexts.
    #[arg(long = "context", value_name = "NAME=JSON")]
    pub contexts: Vec<String>,

    /// The directory that `hashFiles` searches.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

pub fn execute(args: &ExprArgs) -> ExitCode {
    match run(args) {
        Ok(value) => match serde_json::to_string_pretty(&value.to_json()) {
            Ok(json) => match write_stdout(&format!("{json}\n")) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: failed to write the result to standard output: {error}");
                    ExitCode::from(EXIT_INVALID)
                }
            },
            Err(error) => {
                eprintln!("error: cannot render the result as JSON: {error}");
                ExitCode::from(EXIT_INVALID)
            }
        },
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn run(args: &ExprArgs) -> Result<Value, String> {
    let mut context = Context::new();
    for option in &args.contexts {
        let (name, value) = parse_context_option(option)?;
        context.set(&name, value);
    }
    if let Some(workspace) = &args.workspace {
        context.set_workspace(workspace);
    }
    evaluate(&args.expression, &context).map_err(|error| error.to_string())
}

/// Evaluates `text` as one expression, or as a workflow value when it has
/// text around its `${{ }}` (`refs/heads/${{ matrix.branch }}`), which
/// GitHub interpolates into a string.
fn evaluate(text: &str, context: &Context) -> Result<Value, ExprError> {
    let is_template =
        text.contains("${{") && strip_delimiters(text) == text && parse(text).is_err();
    if is_template {
        evaluate_template(text, context)
    } else {
        evaluate_str(text, context)
    }
}

/// Splits `NAME=JSON` or `NAME=@FILE` and parses the JSON. Error messages
/// name the context but never repeat its value, which may be a secret.
fn parse_context_option(option: &str) -> Result<(String, Value), String> {
    let Some((name, json)) = option.split_once('=') else {
        return Err(format!(
            "invalid --context value: expected NAME=JSON, found no '=' after '{}'",
            option.chars().take(40).collect::<String>()
        ));
    };
    let name = name.trim();
    if !NAMED_VALUES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "invalid --context name '{name}': expressions can read only {}",
            NAMED_VALUES.join(", ")
        ));
    }
    let (json, source) = match json.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                format!("invalid --context '{name}': cannot read {path}: {error}")
            })?;
            (text, format!("the file {path}"))
        }
        None => (json.to_owned(), "the value".to_owned()),
    };
    let json: serde_json::Value = serde_json::from_str(&json).map_err(|error| {
        format!("invalid --context '{name}': {source} is not valid JSON: {error}")
    })?;
    Ok((name.to_owned(), Value::from_json(&json)))
}
