//! The error type of the expression language.

use thiserror::Error;

/// An error from parsing or evaluating an expression.
///
/// Columns are 1-based character offsets within the expression text, or
/// within the template text for errors from template functions.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum ExprError {
    /// The parser expected one thing and found another.
    #[error("expected {expected} at column {column}, found {found}")]
    Expected {
        expected: String,
        found: String,
        column: usize,
    },

    /// The text contains a character sequence that is no token.
    #[error("unexpected symbol '{symbol}' at column {column}{hint}")]
    UnexpectedSymbol {
        symbol: String,
        column: usize,
        hint: &'static str,
    },

    /// A string literal has no closing quote.
    #[error("unterminated string starting at column {column}; close it with a single quote (')")]
    UnterminatedString { column: usize },

    /// An identifier names no context that expressions can read.
    #[error(
        "unrecognized named-value: '{name}' at column {column}; \
         expressions can read github, env, vars, secrets, inputs, job, jobs, \
         steps, runner, strategy, matrix and needs"
    )]
    UnknownNamedValue { name: String, column: usize },

    /// A call names no known function.
    #[error("unrecognized function: '{name}' at column {column}")]
    UnknownFunction { name: String, column: usize },

    /// A function got too few or too many arguments.
    #[error("function '{function}' takes {expected}, got {found} at column {column}")]
    ArgumentCount {
        function: &'static str,
        expected: &'static str,
        found: usize,
        column: usize,
    },

    /// The expression nests deeper than the parser allows.
    #[error(
        "expression nests deeper than the maximum of {max} levels at column {column}; \
         split it into several steps or simplify it"
    )]
    TooDeep { max: usize, column: usize },

    /// The expression text is longer than the parser allows.
    #[error("expression is {length} characters long, more than the maximum of {max}")]
    TooLong { length: usize, max: usize },

    /// A `${{` in a template has no matching `}}`.
    #[error("unclosed '${{{{' at column {column}; end the expression with '}}}}'")]
    UnclosedTemplate { column: usize },

    /// A function failed on the values it received.
    #[error("{function}: {message}")]
    Function {
        function: &'static str,
        message: String,
    },

    /// A string built by the expression grew past the output limit.
    #[error("{operation} produced more than the maximum of {max} bytes")]
    OutputTooLarge { operation: &'static str, max: usize },
}

impl ExprError {
    /// Returns the 1-based column the error points at, if it has one.
    pub fn column(&self) -> Option<usize> {
        match self {
            ExprError::Expected { column, .. }
            | ExprError::UnexpectedSymbol { column, .. }
            | ExprError::UnterminatedString { column }
            | ExprError::UnknownNamedValue { column, .. }
            | ExprError::UnknownFunction { column, .. }
            | ExprError::ArgumentCount { column, .. }
            | ExprError::TooDeep { column, .. }
            | ExprError::UnclosedTemplate { column } => Some(*column),
            ExprError::TooLong { .. }
            | ExprError::Function { .. }
            | ExprError::OutputTooLarge { .. } => None,
        }
    }

    /// Returns a short stable name for the kind of error: `syntax`,
    /// `unknown-named-value`, `unknown-function`, `argument-count`,
    /// `too-deep`, `too-long`, `function` or `output-too-large`.
    pub fn kind(&self) -> &'static str {
        match self {
            ExprError::Expected { .. }
            | ExprError::UnexpectedSymbol { .. }
            | ExprError::UnterminatedString { .. }
            | ExprError::UnclosedTemplate { .. } => "syntax",
            ExprError::UnknownNamedValue { .. } => "unknown-named-value",
            ExprError::UnknownFunction { .. } => "unknown-function",
            ExprError::ArgumentCount { .. } => "argument-count",
            ExprError::TooDeep { .. } => "too-deep",
            ExprError::TooLong { .. } => "too-long",
            ExprError::Function { .. } => "function",
            ExprError::OutputTooLarge { .. } => "output-too-large",
        }
    }

    /// Returns whether the error comes from parsing rather than evaluation.
    pub fn is_syntax(&self) -> bool {
        !matches!(
            self,
            ExprError::Function { .. } | ExprError::OutputTooLarge { .. }
        )
    }

    /// Moves the column by `offset` characters, to turn a column within an
    /// expression into a column within the template that contains it.
    pub(crate) fn shift_column(mut self, offset: usize) -> Self {
        match &mut self {
            ExprError::Expected { column, .. }
            | ExprError::UnexpectedSymbol { column, .. }
            | ExprError::UnterminatedString { column }
            | ExprError::UnknownNamedValue { column, .. }
            | ExprError::UnknownFunction { column, .. }
            | ExprError::ArgumentCount { column, .. }
            | ExprError::TooDeep { column, .. }
            | ExprError::UnclosedTemplate { column } => *column += offset,
            ExprError::TooLong { .. }
            | ExprError::Function { .. }
            | ExprError::OutputTooLarge { .. } => {}
        }
        self
    }
}
