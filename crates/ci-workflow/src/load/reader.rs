//! Helpers shared by the readers of each section: typed access to YAML
//! nodes that records a diagnostic, with position and context, whenever a
//! node has the wrong shape.

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::expr::{self, ExprError};
use crate::model::{Condition, Data, OrExpression, Spanned, Template};
use crate::yaml::{Node, Position, Resolved, Scalar, ScalarStyle, Value};

/// Collects diagnostics for one file while its sections are read.
pub(crate) struct Reader<'a> {
    pub path: &'a str,
    /// The whole text of the file, to find positions inside values.
    pub source: &'a str,
    /// Byte offset of the start of each line of `source`.
    line_starts: Vec<usize>,
    pub diagnostics: Vec<Diagnostic>,
}

/// The entries of a mapping whose keys were checked against a list of
/// known keys.
pub(crate) struct Fields<'n> {
    pub pos: Position,
    pub entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    /// Returns the key node and value node of `key` (the first one when
    /// the key is duplicated).
    pub fn get(&self, key: &str) -> Option<(&'n Node, &'n Node)> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// Returns true when `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

impl<'a> Reader<'a> {
    pub fn new(path: &'a str, source: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        Reader {
            path,
            source,
            line_starts,
            diagnostics: Vec::new(),
        }
    }

    /// Returns the text of 1-based line `number`, without its line break.
    fn line(&self, number: usize) -> Option<&str> {
        let start = *self.line_starts.get(number.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(number)
            .map_or(self.source.len(), |next| next - 1);
        Some(self.source[start..end].trim_end_matches('\r'))
    }

    /// Returns the position of byte `offset` of a template's value, whose
    /// scalar starts at `pos`. The scalar's style is recovered from the
    /// character at `pos`: a quote for quoted scalars, a value with line
    /// breaks for block scalars (whose position is their first content
    /// character), otherwise a plain scalar.
    pub fn position_in_value(&self, value: &str, pos: Position, offset: usize) -> Position {
        let first_char = self.line(pos.line).and_then(|line| {
            let column = pos.column.saturating_sub(1);
            if line.is_char_boundary(column) && line[..column].is_ascii() {
                line[column..].chars().next()
            } else {
                line.chars().nth(column)
            }
        });
        let style = match first_char {
            Some('"') => ScalarStyle::DoubleQuoted,
            Some('\'') => ScalarStyle::SingleQuoted,
            _ if value.contains('\n') => ScalarStyle::Literal,
            _ => ScalarStyle::Plain,
        };
        let scalar = Scalar {
            text: value.to_string(),
            style,
            tag: None,
        };
        scalar.position_of(pos, offset)
    }

    pub fn error(&mut self, pos: Position, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.path, pos, message));
    }

    /// Returns the number of errors recorded so far.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning(&mut self, pos: Position, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(self.path, pos, message));
    }

    /// Records "`label` in `context` must be `expected`, found ...".
    pub fn type_error(&mut self, node: &Node, label: &str, context: &str, expected: &str) {
        self.error(
            node.pos,
            format!(
                "{label} in {context} must be {expected}, found {}",
                describe_value(node)
            ),
        );
    }

    /// Returns the entries of a mapping after checking each key against
    /// `known`: a key that is not a string is an error, an unknown key a
    /// warning with a suggestion when one is close. `label` names the node
    /// in messages (`"strategy"`); `context` names where it is (`job
    /// "build"`).
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        label: &str,
        context: &str,
        known: &[&str],
    ) -> Option<Fields<'n>> {
        let entries = self.mapping(node, label, context)?;
        for (key, _) in entries {
            match key.as_str() {
                Some(name) if key.as_scalar().is_some() => {
                    if !known.contains(&name) && !super::checks::is_merge_key(key) {
                        self.unknown_key(key.pos, name, context, known);
                    }
                }
                _ => self.error(
                    key.pos,
                    format!(
                        "keys in {context} must be strings, found {}",
                        key.kind_name()
                    ),
                ),
            }
        }
        Some(Fields {
            pos: node.pos,
            entries,
        })
    }

    /// Records the warning for an unknown key, with a suggestion.
    pub fn unknown_key(&mut self, pos: Position, name: &str, context: &str, known: &[&str]) {
        let message = match did_you_mean(name, known.iter().copied()) {
            Some(suggestion) => {
                format!("unknown key \"{name}\" in {context}, did you mean \"{suggestion}\"?")
            }
            None => format!("unknown key \"{name}\" in {context}"),
        };
        self.warning(pos, message);
    }

    /// Returns the entries of a mapping, or records a type error. A null
    /// value (`key:` with nothing after it) counts as an empty mapping.
    pub fn mapping<'n>(
        &mut self,
        node: &'n Node,
        label: &str,
        context: &str,
    ) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Mapping(entries) => Some(entries),
            _ if node.is_null() => Some(&[]),
            _ => {
                self.type_error(node, label, context, "a mapping");
                None
            }
        }
    }

    /// Returns the key of a mapping entry as a string; non-string keys were
    /// already reported by [`Reader::fields`] or are reported here.
    pub fn key_string<'n>(&mut self, key: &'n Node, context: &str) -> Option<&'n str> {
        if super::checks::is_merge_key(key) {
            // Already reported as a merge key.
            return None;
        }
        match key.as_str() {
            Some(text) => Some(text),
            None => {
                self.error(
                    key.pos,
                    format!(
                        "keys in {context} must be strings, found {}",
                        key.kind_name()
                    ),
                );
                None
            }
        }
    }

    /// Reads a plain string (a name or an identifier). Numbers and booleans
    /// are taken as their text; null, sequences and mappings are errors.
    pub fn string(&mut self, node: &Node, label: &str, context: &str) -> Option<Spanned<String>> {
        match node.as_scalar() {
            Some(scalar) if !node.is_null() => Some(Spanned::new(scalar.text.clone(), node.pos)),
            _ => {
                self.type_error(node, label, context, "a string");
                None
            }
        }
    }

    /// Reads a string that may contain `${{ }}` expressions. Null becomes
    /// the empty string when `allow_empty` is set and is an error
    /// otherwise. Numbers and booleans are converted as GitHub converts
    /// them, with a warning when the conversion changes the text.
    pub fn template(
        &mut self,
        node: &Node,
        label: &str,
        context: &str,
        allow_empty: bool,
    ) -> Option<Template> {
        let Some(scalar) = node.as_scalar() else {
            self.type_error(node, label, context, "a string");
            return None;
        };
        let resolved = scalar.resolve();
        if resolved == Resolved::Null && !allow_empty {
            self.error(node.pos, format!("{label} in {context} must not be empty"));
            return None;
        }

        let value = github_string(scalar, &resolved);
        self.warn_if_number_changes(scalar, node.pos, label, context);
        self.check_template_syntax(scalar, node.pos, label, context);
        Some(Template {
            value,
            source: scalar.text.clone(),
            pos: node.pos,
        })
    }

    /// Reads a list of templates; a single scalar counts as a one-item
    /// list.
    pub fn template_list(&mut self, node: &Node, label: &str, context: &str) -> Vec<Template> {
        match &node.value {
            Value::Sequence(items) => items
                .iter()
                .filter_map(|item| self.template(item, label, context, false))
                .collect(),
            Value::Scalar(_) => self
                .template(node, label, context, false)
                .into_iter()
                .collect(),
            Value::Mapping(_) => {
                self.type_error(node, label, context, "a string or a list of strings");
                Vec::new()
            }
        }
    }

    /// Reads a list of plain strings; a single scalar counts as a one-item
    /// list.
    pub fn string_list(&mut self, node: &Node, label: &str, context: &str) -> Vec<Spanned<String>> {
        match &node.value {
            Value::Sequence(items) => items
                .iter()
                .filter_map(|item| self.string(item, label, context))
                .collect(),
            Value::Scalar(_) if !node.is_null() => {
                self.string(node, label, context).into_iter().collect()
            }
            _ => {
                self.type_error(node, label, context, "a string or a list of strings");
                Vec::new()
            }
        }
    }

    /// Reads an `if:` condition, kept as written.
    pub fn condition(&mut self, node: &Node, context: &str) -> Option<Condition> {
        let Some(scalar) = node.as_scalar().filter(|_| !node.is_null()) else {
            self.type_error(node, "\"if\"", context, "an expression or a boolean");
            return None;
        };
        let before = self.diagnostics.len();
        self.check_template_syntax(scalar, node.pos, "\"if\"", context);
        if self.diagnostics.len() == before {
            self.check_condition_syntax(scalar, node.pos, context);
        }
        if self.diagnostics.len() == before
            && scalar.text.contains("${{")
            && !is_whole_expression(&scalar.text)
        {
            self.warning(
                node.pos,
                format!(
                    "\"if\" of {context} is always true: text outside ${{{{ }}}} makes it a \
                     non-empty string; put the whole condition inside ${{{{ }}}} or drop the \
                     ${{{{ }}}}"
                ),
            );
        }
        Some(Condition {
            raw: scalar.text.clone(),
            pos: node.pos,
        })
    }

    /// Reads a boolean.
    pub fn boolean(&mut self, node: &Node, label: &str, context: &str) -> Option<bool> {
        match node.as_scalar().map(Scalar::resolve) {
            Some(Resolved::Bool(value)) => Some(value),
            _ => {
                self.type_error(node, label, context, "a boolean (true or false)");
                None
            }
        }
    }

    /// Reads a boolean or a whole `${{ }}` expression.
    pub fn bool_or_expression(
        &mut self,
        node: &Node,
        label: &str,
        context: &str,
    ) -> Option<Spanned<OrExpression<bool>>> {
        let expected = "a boolean or a ${{ }} expression";
        let scalar = node.as_scalar();
        let value = match scalar.map(Scalar::resolve) {
            Some(Resolved::Bool(value)) => OrExpression::Literal(value),
            Some(Resolved::String) => {
                OrExpression::Expression(self.expression(node, label, context, expected)?)
            }
            _ => {
                self.type_error(node, label, context, expected);
                return None;
            }
        };
        Some(Spanned::new(value, node.pos))
    }

    /// Reads a number or a whole `${{ }}` expression.
    pub fn number_or_expression(
        &mut self,
        node: &Node,
        label: &str,
        context: &str,
    ) -> Option<Spanned<OrExpression<f64>>> {
        let expected = "a number or a ${{ }} expression";
        let value = match node.as_scalar().map(Scalar::resolve) {
            Some(Resolved::Int(value)) => OrExpression::Literal(value as f64),
            Some(Resolved::Float(value)) if value.is_finite() => OrExpression::Literal(value),
            Some(Resolved::String) => {
                OrExpression::Expression(self.expression(node, label, context, expected)?)
            }
            _ => {
                self.type_error(node, label, context, expected);
                return None;
            }
        };
        Some(Spanned::new(value, node.pos))
    }

    /// Reads a positive integer or a whole `${{ }}` expression.
    pub fn count_or_expression(
        &mut self,
        node: &Node,
        label: &str,
        context: &str,
    ) -> Option<Spanned<OrExpression<u64>>> {
        let expected = "a positive integer or a ${{ }} expression";
        let value = match node.as_scalar().map(Scalar::resolve) {
            Some(Resolved::Int(value)) if value > 0 => OrExpression::Literal(value as u64),
            Some(Resolved::String) => {
                OrExpression::Expression(self.expression(node, label, context, expected)?)
            }
            _ => {
                self.type_error(node, label, context, expected);
                return None;
            }
        };
        Some(Spanned::new(value, node.pos))
    }

    /// Returns the text of a string scalar that is one whole `${{ }}`
    /// expression, or records that `expected` was not met.
    fn expression(
        &mut self,
        node: &Node,
        label: &str,
        context: &str,
        expected: &str,
    ) -> Option<String> {
        let scalar = node.as_scalar()?;
        if !is_whole_expression(&scalar.text) {
            self.type_error(node, label, context, expected);
            return None;
        }
        self.check_template_syntax(scalar, node.pos, label, context);
        Some(scalar.text.clone())
    }

    /// Converts any YAML node into data that keeps its types.
    pub fn data(&mut self, node: &Node) -> Data {
        Spanned::new(to_json(node), node.pos)
    }

    /// Converts a node into data like [`Reader::data`] and checks the
    /// expression syntax of every string in it, because GitHub evaluates
    /// `${{ }}` inside matrix values.
    pub fn data_with_expressions(&mut self, node: &Node, label: &str, context: &str) -> Data {
        self.check_data_syntax(node, label, context);
        self.data(node)
    }

    /// Checks the strings of a node and its children. The recursion is
    /// bounded by the parser's depth limit.
    fn check_data_syntax(&mut self, node: &Node, label: &str, context: &str) {
        match &node.value {
            Value::Scalar(scalar) => {
                self.warn_if_number_changes(scalar, node.pos, label, context);
                self.check_template_syntax(scalar, node.pos, label, context);
            }
            Value::Sequence(items) => {
                for item in items {
                    self.check_data_syntax(item, label, context);
                }
            }
            Value::Mapping(entries) => {
                for (_, value) in entries {
                    self.check_data_syntax(value, label, context);
                }
            }
        }
    }

    /// Warns when a plain scalar reads as a number whose printed form
    /// differs from its text (`3.10` is the number 3.1), a frequent cause
    /// of wrong versions in matrices and action inputs.
    fn warn_if_number_changes(
        &mut self,
        scalar: &Scalar,
        pos: Position,
        label: &str,
        context: &str,
    ) {
        let resolved = scalar.resolve();
        if !matches!(resolved, Resolved::Int(_) | Resolved::Float(_)) {
            return;
        }
        let value = github_string(scalar, &resolved);
        if value != scalar.text {
            self.warning(
                pos,
                format!(
                    "{label} in {context} is the number {value}, not the text \"{}\"; \
                     quote it to keep the text",
                    scalar.text
                ),
            );
        }
    }

    /// Records an error for a `${{` without a closing `}}`, or else for
    /// the first expression syntax error of the template.
    pub fn check_template_syntax(
        &mut self,
        scalar: &Scalar,
        pos: Position,
        label: &str,
        context: &str,
    ) {
        if !scalar.text.contains("${{") {
            return;
        }
        if let Some(span) = expression_spans(&scalar.text)
            .into_iter()
            .find(|span| span.end.is_none())
        {
            self.error(
                scalar.position_of(pos, span.start),
                format!("unclosed expression in {label} of {context}: \"${{{{\" without \"}}}}\""),
            );
            return;
        }
        if let Err(error) = expr::check_template_syntax(&scalar.text) {
            self.expression_error(scalar, pos, &error, label, context);
        }
    }

    /// Records an error for an `if:` whose expression does not parse.
    pub fn check_condition_syntax(&mut self, scalar: &Scalar, pos: Position, context: &str) {
        if let Err(error) = expr::Condition::parse(&scalar.text) {
            self.expression_error(scalar, pos, &error, "\"if\"", context);
        }
    }

    /// Records an expression error at the place in the scalar that its
    /// column (1-based, in characters of the scalar's text) points to.
    fn expression_error(
        &mut self,
        scalar: &Scalar,
        pos: Position,
        error: &ExprError,
        label: &str,
        context: &str,
    ) {
        let mut message = error.to_string();
        let error_pos = match error.column() {
            Some(column) => {
                // The position is given by the diagnostic itself, so the
                // column inside the expression would only confuse.
                message = message.replacen(&format!(" at column {column}"), "", 1);
                let offset = scalar
                    .text
                    .char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(scalar.text.len(), |(offset, _)| offset);
                scalar.position_of(pos, offset)
            }
            None => pos,
        };
        self.error(
            error_pos,
            format!("invalid expression in {label} of {context}: {message}"),
        );
    }
}

/// Describes a node for a message: `the number 1`, `the string "x"`,
/// `a mapping`.
pub(crate) fn describe_value(node: &Node) -> String {
    let Some(scalar) = node.as_scalar() else {
        return node.kind_name().to_string();
    };
    match scalar.resolve() {
        Resolved::Null => "null".to_string(),
        Resolved::Bool(_) => format!("the boolean {}", scalar.text),
        Resolved::Int(_) | Resolved::Float(_) => format!("the number {}", scalar.text),
        Resolved::String => format!("the string \"{}\"", scalar.text),
    }
}

/// The place of one `${{ ... }}` in a template: byte offsets of `${{` and
/// of the end of `}}` (`None` when it is not closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExpressionSpan {
    pub start: usize,
    pub end: Option<usize>,
}

/// Finds the `${{ }}` parts of a template. A `}}` inside a single-quoted
/// string literal of the expression does not close it.
pub(crate) fn expression_spans(text: &str) -> Vec<ExpressionSpan> {
    let mut spans = Vec::new();
    let mut search_from = 0;

    while let Some(found) = text[search_from..].find("${{") {
        let start = search_from + found;
        let body_start = start + 3;
        let end = find_expression_end(&text[body_start..]).map(|len| body_start + len);
        spans.push(ExpressionSpan { start, end });
        match end {
            Some(end) => search_from = end,
            None => break,
        }
    }
    spans
}

/// Returns the byte length up to and including the closing `}}`.
fn find_expression_end(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => return Some(i + 2),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Returns true when `text` is one `${{ }}` expression and nothing else
/// but surrounding whitespace.
pub(crate) fn is_whole_expression(text: &str) -> bool {
    let trimmed = text.trim();
    let spans = expression_spans(trimmed);
    matches!(spans.as_slice(), [ExpressionSpan { start: 0, end: Some(end) }] if *end == trimmed.len())
}

/// Converts a scalar to the string GitHub reads for it: null is empty,
/// booleans are `true`/`false`, numbers are printed from their value
/// (`3.10` reads as 3.1, `0x10` as 16), strings stay as they are.
pub(crate) fn github_string(scalar: &Scalar, resolved: &Resolved) -> String {
    match resolved {
        Resolved::Null => String::new(),
        Resolved::Bool(value) => value.to_string(),
        // GitHub reads every YAML number as a double and prints it with at
        // most 15 significant digits.
        Resolved::Int(value) => expr::format_number(*value as f64),
        Resolved::Float(value) => expr::format_number(*value),
        Resolved::String => scalar.text.clone(),
    }
}

/// Converts a node to JSON with YAML 1.2 core types. The recursion is
/// bounded by the parser's depth limit.
pub(crate) fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as Json;
    match &node.value {
        Value::Scalar(scalar) => match scalar.resolve() {
            Resolved::Null => Json::Null,
            Resolved::Bool(value) => Json::Bool(value),
            Resolved::Int(value) => Json::from(value),
            Resolved::Float(value) => serde_json::Number::from_f64(value)
                .map_or_else(|| Json::String(expr::format_number(value)), Json::Number),
            Resolved::String => Json::String(scalar.text.clone()),
        },
        Value::Sequence(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Mapping(entries) => Json::Object(
            entries
                .iter()
                .map(|(key, value)| (key_text(key), to_json(value)))
                .collect(),
        ),
    }
}

fn key_text(key: &Node) -> String {
    match key.as_scalar() {
        Some(scalar) => scalar.text.clone(),
        None => to_json(key).to_string(),
    }
}

/// Returns true for `[A-Za-z_][A-Za-z0-9_-]*`, GitHub's rule for job, step,
/// input and output ids.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
