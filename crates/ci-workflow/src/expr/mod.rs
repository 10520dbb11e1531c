//! GitHub Actions expressions: the language inside `${{ }}`.
//!
//! An expression combines these parts:
//!
//! - literals: `null`, `true`, `42`, `0xff`, `1.5e3`, `'it''s'`;
//! - contexts: `github`, `env`, `vars`, `secrets`, `inputs`, `job`, `jobs`,
//!   `steps`, `runner`, `strategy`, `matrix`, `needs`;
//! - property access `a.b`, `a['b']`, `a[0]` and filters `a.*.b`;
//! - operators `!`, `<`, `<=`, `>`, `>=`, `==`, `!=`, `&&`, `||`;
//! - functions `contains`, `startsWith`, `endsWith`, `format`, `join`,
//!   `toJSON`, `fromJSON`, `hashFiles`, `case`, `success`, `always`,
//!   `cancelled`, `failure`.
//!
//! Context, property and function names ignore case.
//!
//! The semantics follow GitHub's documentation of expressions, and where it
//! is silent, the expression code of GitHub's runner (actions/runner):
//!
//! - `==` and the comparisons convert both sides to numbers when their
//!   types differ (null is 0, booleans are 1 and 0, strings are parsed,
//!   arrays and objects never equal anything but themselves). NaN compares
//!   false with everything. Strings compare ignoring case.
//! - `&&` and `||` return one of their operands, not a boolean. The falsy
//!   values are `false`, `0`, `-0`, `NaN`, `''` and `null`.
//! - A missing property is `null`; naming an unknown context is a syntax
//!   error.
//!
//! The entry points:
//!
//! - [`parse`] turns text into an [`Expr`]; [`evaluate`] runs it against a
//!   [`Context`]; [`evaluate_str`] does both.
//! - [`interpolate`] fills the `${{ }}` parts of a string, and
//!   [`check_template_syntax`] only checks them. [`evaluate_template`] keeps
//!   the value's type when the text is exactly one `${{ }}`. [`Template`]
//!   keeps a parsed template for repeated use.
//! - [`evaluate_condition`] evaluates an `if:` value with GitHub's implicit
//!   `success() &&`; [`Condition`] keeps a parsed condition so that a
//!   condition evaluated for every matrix cell is parsed once.
//!
//! ```
//! use ci_workflow::expr::{Context, Value, evaluate_condition, evaluate_str, interpolate};
//!
//! let context = Context::new().with("matrix", serde_json::json!({"os": "Linux"}));
//! assert_eq!(evaluate_str("matrix.OS == 'linux'", &context).unwrap(), Value::Bool(true));
//! assert_eq!(interpolate("os=${{ matrix.os }}", &context).unwrap(), "os=Linux");
//! assert!(evaluate_condition("${{ matrix.os != 'windows' }}", &context).unwrap());
//! ```

mod error;
mod eval;
mod functions;
mod hash_files;
mod lexer;
mod parser;
mod template;
mod value;

pub use error::ExprError;
pub use eval::{Context, EvalContext, JobStatus, StatusInputs, StatusScope, evaluate};
pub use functions::MAX_OUTPUT_BYTES;
pub use parser::{
    CompareOp, Expr, Function, MAX_DEPTH, MAX_EXPRESSION_LENGTH, NAMED_VALUES, parse,
};
pub use template::{
    Condition, Template, check_template_syntax, evaluate_condition, evaluate_template, interpolate,
};
pub use value::{
    Kind, Object, Value, format_number, loose_equal, loose_greater, loose_greater_equal,
    loose_less, loose_less_equal, parse_number,
};

/// Parses and evaluates one expression. Surrounding `${{ }}` are accepted
/// and ignored.
pub fn evaluate_str(source: &str, context: &Context) -> Result<Value, ExprError> {
    let expr = parse(strip_delimiters(source))?;
    evaluate(&expr, context)
}

/// Whether `expr` calls a status function (`success`, `always`,
/// `cancelled`, `failure`). A name inside a string literal does not count.
pub fn contains_status_function(expr: &Expr) -> bool {
    expr.contains_status_function()
}

/// Removes the surrounding `${{` and `}}` from an expression when the whole
/// text is one `${{ }}`; returns any other text unchanged.
pub fn strip_delimiters(source: &str) -> &str {
    let trimmed = source.trim();
    let Some(rest) = trimmed.strip_prefix("${{") else {
        return source;
    };
    match template::find_close_in(rest) {
        Some(end) if end + 2 == rest.len() => &rest[..end],
        _ => source,
    }
}
