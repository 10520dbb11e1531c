//! YAML documents as a tree of nodes that remember where they came from.
//!
//! The workflow loader needs the line and column of every key and value to
//! point its diagnostics at the right place. So this module builds its own
//! tree from the events of `yaml_rust2`'s parser, a YAML 1.2 parser whose
//! events carry source markers. Scalars keep their text as written; the
//! YAML 1.2 core schema (`null`, booleans, integers, floats) is applied
//! only on request by [`Scalar::resolve`]. Under that schema the key `on`
//! is the string "on", as GitHub reads it, and never the boolean `true`
//! that YAML 1.1 parsers make of it.
//!
//! Hostile input is bounded: [`Limits`] caps the size of the text, the
//! nesting depth and the number of nodes after alias expansion (which stops
//! "billion laughs" documents). Exceeding a limit is an ordinary
//! [`YamlError`], never a stack overflow or an out-of-memory abort: the
//! tree is built with an explicit stack, and every recursive function over
//! nodes is bounded by the depth limit.

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A place in the source text: 1-based line and 1-based column (counted in
/// characters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// Creates a position from a 1-based line and column.
    pub fn new(line: usize, column: usize) -> Self {
        Position { line, column }
    }

    fn from_marker(marker: &Marker) -> Self {
        // yaml_rust2 counts lines from 1 and columns from 0.
        Position {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Bounds that protect the loader against hostile documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of the text in bytes.
    pub max_bytes: usize,
    /// Maximum nesting depth of sequences and mappings.
    pub max_depth: usize,
    /// Maximum number of nodes in the tree, counting every copy that an
    /// alias (`*name`) makes of its anchored node.
    pub max_nodes: usize,
    /// Maximum total length in bytes of all scalars in the tree, counting
    /// alias copies, so that aliases of one long string cannot exhaust
    /// memory either.
    pub max_scalar_bytes: usize,
}

impl Default for Limits {
    /// Limits far above any real workflow: 1 MiB of text, 64 levels of
    /// nesting, 200 000 nodes and 16 MiB of scalar text.
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 64,
            max_nodes: 200_000,
            max_scalar_bytes: 16 * 1024 * 1024,
        }
    }
}

/// How a scalar was written, which decides whether the core schema applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// A `|` block scalar.
    Literal,
    /// A `>` block scalar.
    Folded,
}

/// A scalar value: its text after YAML unescaping and line folding, how it
/// was written, and its explicit tag if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub style: ScalarStyle,
    /// Explicit tag such as `tag:yaml.org,2002:str` (from `!!str`).
    pub tag: Option<String>,
}

/// A scalar's value under the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String,
}

const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

impl Scalar {
    /// Resolves the scalar under the YAML 1.2 core schema. Only plain
    /// scalars without a tag are resolved; quoted, block and `!!str`
    /// scalars are strings.
    pub fn resolve(&self) -> Resolved {
        if let Some(tag) = &self.tag {
            return resolve_tagged(tag, &self.text);
        }
        if self.style != ScalarStyle::Plain {
            return Resolved::String;
        }
        resolve_plain(&self.text)
    }

    /// Returns the position of the character at byte `offset` of
    /// [`Scalar::text`], given the position of the scalar node. The node of
    /// a block scalar (`|`, `>`) starts at its first content character.
    ///
    /// NOTE: the result is exact for literal (`|`) block scalars and for
    /// single-line plain and quoted scalars without escape sequences. For
    /// folded scalars and multi-line flow scalars it may be off by a few
    /// columns.
    pub fn position_of(&self, scalar_pos: Position, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line_index = before.matches('\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column_in_line = before[line_start..].chars().count();

        match self.style {
            ScalarStyle::Literal | ScalarStyle::Folded => {
                // Blank lines before the first content line are part of the
                // text but come before the node's position.
                let leading_blank = self.text.len() - self.text.trim_start_matches('\n').len();
                let line = (scalar_pos.line + line_index).saturating_sub(leading_blank);
                let column = if line_index < leading_blank {
                    1
                } else {
                    scalar_pos.column + column_in_line
                };
                Position::new(line.max(1), column)
            }
            ScalarStyle::Plain if line_index == 0 => {
                Position::new(scalar_pos.line, scalar_pos.column + column_in_line)
            }
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted if line_index == 0 => {
                Position::new(scalar_pos.line, scalar_pos.column + 1 + column_in_line)
            }
            _ => Position::new(scalar_pos.line + line_index, scalar_pos.column),
        }
    }
}

fn depth_message(max_depth: usize) -> String {
    format!("nesting is deeper than the limit of {max_depth} levels")
}

/// Returns the line and column of the byte `offset` in `text`.
fn position_of_offset(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position::new(line, before[line_start..].chars().count() + 1)
}

fn resolve_tagged(tag: &str, text: &str) -> Resolved {
    match tag.strip_prefix(CORE_TAG_PREFIX) {
        Some("null") => Resolved::Null,
        Some("bool") | Some("int") | Some("float") => match resolve_plain(text) {
            Resolved::Null => Resolved::String,
            other => other,
        },
        _ => Resolved::String,
    }
}

/// Applies the YAML 1.2 core schema (spec section 10.3.2) to a plain scalar.
fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }

    if let Some(octal) = text.strip_prefix("0o") {
        return parse_radix(octal, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return parse_radix(hex, 16);
    }
    if is_decimal_integer(text) {
        return match text.parse::<i64>() {
            Ok(value) => Resolved::Int(value),
            Err(_) => text
                .parse::<f64>()
                .map_or(Resolved::String, Resolved::Float),
        };
    }
    if is_core_float(text) {
        return text
            .parse::<f64>()
            .map_or(Resolved::String, Resolved::Float);
    }
    Resolved::String
}

fn parse_radix(digits: &str, radix: u32) -> Resolved {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Resolved::String;
    }
    i64::from_str_radix(digits, radix).map_or(Resolved::String, Resolved::Int)
}

/// Matches `[-+]?[0-9]+`.
fn is_decimal_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Matches `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_core_float(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };

    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match fraction {
        None => !whole.is_empty() && all_digits(whole),
        Some(fraction) => {
            all_digits(whole)
                && all_digits(fraction)
                && !(whole.is_empty() && fraction.is_empty())
                && (!whole.is_empty() || !fraction.is_empty())
        }
    };
    if !mantissa_ok {
        return false;
    }

    match exponent {
        None => true,
        Some(exponent) => {
            let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
            !digits.is_empty() && all_digits(digits)
        }
    }
}

/// A node of the tree with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Start of the node. For a block mapping this is its first key, for a
    /// block sequence its first `-`, and for a flow collection its
    /// bracket. A scalar starts at its first character (its quote if
    /// quoted), a block scalar at its first content character.
    pub pos: Position,
    pub value: Value,
}

/// The content of a node. Mapping entries keep their file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

impl Node {
    /// Returns the scalar, if this node is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// Returns the scalar's text, if this node is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|scalar| scalar.text.as_str())
    }

    /// Returns the items, if this node is a sequence.
    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the entries, if this node is a mapping.
    pub fn as_mapping(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// Returns true for a plain null scalar (`null`, `~` or nothing).
    pub fn is_null(&self) -> bool {
        self.as_scalar()
            .is_some_and(|scalar| scalar.resolve() == Resolved::Null)
    }

    /// Describes the node's kind for messages: "a string", "a mapping", ...
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Sequence(_) => "a sequence",
            Value::Mapping(_) => "a mapping",
            Value::Scalar(scalar) => match scalar.resolve() {
                Resolved::Null => "null",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) | Resolved::Float(_) => "a number",
                Resolved::String => "a string",
            },
        }
    }

    /// Measures this node and all nodes below it.
    fn size(&self) -> TreeSize {
        match &self.value {
            Value::Scalar(scalar) => TreeSize {
                nodes: 1,
                scalar_bytes: scalar.text.len(),
            },
            Value::Sequence(items) => items
                .iter()
                .fold(TreeSize::ONE_NODE, |total, item| total.add(item.size())),
            Value::Mapping(entries) => entries
                .iter()
                .fold(TreeSize::ONE_NODE, |total, (key, value)| {
                    total.add(key.size()).add(value.size())
                }),
        }
    }
}

/// The amount of a tree that counts against [`Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TreeSize {
    nodes: usize,
    scalar_bytes: usize,
}

impl TreeSize {
    const ONE_NODE: TreeSize = TreeSize {
        nodes: 1,
        scalar_bytes: 0,
    };

    fn add(self, other: TreeSize) -> TreeSize {
        TreeSize {
            nodes: self.nodes.saturating_add(other.nodes),
            scalar_bytes: self.scalar_bytes.saturating_add(other.scalar_bytes),
        }
    }
}

/// A problem found while reading YAML: a syntax error, an exceeded limit or
/// a duplicate mapping key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub pos: Position,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// A parsed YAML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The root node; `None` for an empty document (or only comments).
    pub root: Option<Node>,
    /// One error for every mapping key that repeats an earlier key of the
    /// same mapping. The tree keeps both entries.
    pub duplicate_keys: Vec<YamlError>,
}

/// Parses one YAML document into a tree.
///
/// Errors: a syntax error, an exceeded [`Limits`] bound, or a stream with
/// more than one document. Duplicate keys are not fatal here: they are
/// listed in [`Document::duplicate_keys`] so that the caller can report
/// them along with its own findings.
pub fn parse(text: &str, limits: &Limits) -> Result<Document, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError {
            pos: Position::new(1, 1),
            message: format!(
                "file is {} bytes, larger than the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
        });
    }

    // A byte order mark is invisible in editors, so it must not count as a
    // column (or as part of the first key).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = TreeBuilder::new(text, limits).build()?;

    let mut duplicate_keys = Vec::new();
    if let Some(root) = &root {
        find_duplicate_keys(root, &mut duplicate_keys);
    }
    Ok(Document {
        root,
        duplicate_keys,
    })
}

/// One open collection while the tree is being built.
enum Frame {
    Sequence {
        pos: Position,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        pos: Position,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Builds a [`Node`] tree from parser events with an explicit stack.
struct TreeBuilder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    text: &'a str,
    limits: Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, TreeSize)>,
    total: TreeSize,
    root: Option<Node>,
    documents: usize,
}

impl<'a> TreeBuilder<'a> {
    fn new(text: &'a str, limits: &Limits) -> Self {
        TreeBuilder {
            parser: Parser::new_from_str(text),
            text,
            limits: *limits,
            stack: Vec::new(),
            anchors: HashMap::new(),
            total: TreeSize {
                nodes: 0,
                scalar_bytes: 0,
            },
            root: None,
            documents: 0,
        }
    }

    fn build(mut self) -> Result<Option<Node>, YamlError> {
        loop {
            let (event, marker) = self.parser.next_token().map_err(|e| {
                // The scanner counts open `[` and `{` in a u8 and stops past
                // 255, before the tree builder sees the events.
                let message = if e.info() == "recursion limit exceeded" {
                    depth_message(self.limits.max_depth.min(usize::from(u8::MAX)))
                } else {
                    format!("invalid YAML: {}", e.info())
                };
                YamlError {
                    pos: Position::from_marker(e.marker()),
                    message,
                }
            })?;
            let pos = Position::from_marker(&marker);

            match event {
                Event::StreamEnd => return Ok(self.root),
                Event::DocumentStart => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(YamlError {
                            pos,
                            message: "a workflow file must contain one YAML document, found a \
                                      second one"
                                .to_string(),
                        });
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    self.check_tag(tag.as_ref(), &marker)?;
                    self.on_scalar(text, style, anchor, tag, pos)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.check_tag(tag.as_ref(), &marker)?;
                    self.open(pos)?;
                    self.stack.push(Frame::Sequence {
                        pos,
                        anchor,
                        items: Vec::new(),
                    });
                }
                Event::MappingStart(anchor, tag) => {
                    self.check_tag(tag.as_ref(), &marker)?;
                    self.open(pos)?;
                    self.stack.push(Frame::Mapping {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => self.close()?,
                Event::Alias(anchor) => self.on_alias(anchor, pos)?,
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            }
        }
    }

    fn on_scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<Tag>,
        pos: Position,
    ) -> Result<(), YamlError> {
        self.count(
            TreeSize {
                nodes: 1,
                scalar_bytes: text.len(),
            },
            pos,
        )?;
        let style = match style {
            TScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
            TScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
            TScalarStyle::Literal => ScalarStyle::Literal,
            TScalarStyle::Folded => ScalarStyle::Folded,
            _ => ScalarStyle::Plain,
        };
        let node = Node {
            pos,
            value: Value::Scalar(Scalar {
                text,
                style,
                tag: tag.map(|tag| format!("{}{}", tag.handle, tag.suffix)),
            }),
        };
        self.finish_node(node, anchor)
    }

    /// Rejects a tag outside the core schema (`!!str`, `!!int` and so on),
    /// as GitHub does. Such a tag is most often a condition written as
    /// `if: !github.event.repository.fork`, where YAML reads
    /// `!github...` as a tag and leaves an empty value, so the condition
    /// would vanish. The error points at the tag, which the parser's
    /// `marker` (placed after it) does not.
    fn check_tag(&self, tag: Option<&Tag>, marker: &Marker) -> Result<(), YamlError> {
        let Some(tag) = tag else {
            return Ok(());
        };
        let name = format!("{}{}", tag.handle, tag.suffix);
        if name.starts_with(CORE_TAG_PREFIX) {
            return Ok(());
        }
        let written = match tag.handle.as_str() {
            "!" | "!!" => name,
            _ => format!("!<{name}>"),
        };

        let end = self
            .text
            .char_indices()
            .nth(marker.index())
            .map_or(self.text.len(), |(offset, _)| offset);
        let pos = match self.text[..end].rfind(&written) {
            Some(offset) => position_of_offset(self.text, offset),
            None => Position::from_marker(marker),
        };
        Err(YamlError {
            pos,
            message: format!(
                "unsupported YAML tag \"{written}\"; GitHub accepts only the core tags such as \
                 !!str, so quote a value that starts with \"!\" or write it inside ${{{{ }}}}"
            ),
        })
    }

    fn open(&mut self, pos: Position) -> Result<(), YamlError> {
        self.count(TreeSize::ONE_NODE, pos)?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError {
                pos,
                message: depth_message(self.limits.max_depth),
            });
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let (node, anchor) = match self.stack.pop() {
            Some(Frame::Sequence { pos, anchor, items }) => (
                Node {
                    pos,
                    value: Value::Sequence(items),
                },
                anchor,
            ),
            Some(Frame::Mapping {
                pos,
                anchor,
                entries,
                ..
            }) => {
                // The parser marks a block mapping after its first key;
                // the first key is where a reader sees the mapping begin.
                let pos = entries.first().map_or(pos, |(key, _)| key.pos.min(pos));
                (
                    Node {
                        pos,
                        value: Value::Mapping(entries),
                    },
                    anchor,
                )
            }
            None => return Ok(()),
        };
        self.finish_node(node, anchor)
    }

    fn on_alias(&mut self, anchor: usize, pos: Position) -> Result<(), YamlError> {
        let Some(size) = self.anchors.get(&anchor).map(|(_, size)| *size) else {
            return Err(YamlError {
                pos,
                message: "alias refers to an anchor that is not defined before it".to_string(),
            });
        };

        // Count before cloning, so that a "billion laughs" document fails
        // here instead of allocating its expansion.
        self.count(size, pos)?;
        let mut copy = self.anchors[&anchor].0.clone();
        copy.pos = pos;
        self.finish_node(copy, 0)
    }

    fn count(&mut self, added: TreeSize, pos: Position) -> Result<(), YamlError> {
        self.total = self.total.add(added);
        if self.total.nodes > self.limits.max_nodes {
            return Err(YamlError {
                pos,
                message: format!(
                    "document has more than {} nodes after expanding aliases",
                    self.limits.max_nodes
                ),
            });
        }
        if self.total.scalar_bytes > self.limits.max_scalar_bytes {
            return Err(YamlError {
                pos,
                message: format!(
                    "document has more than {} bytes of scalar text after expanding aliases",
                    self.limits.max_scalar_bytes
                ),
            });
        }
        Ok(())
    }

    /// Records an anchored node and attaches the node to its parent.
    fn finish_node(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            // The stored copy counts against the limit too, so nested
            // anchors cannot multiply memory use behind the counter's back.
            let size = node.size();
            self.count(size, node.pos)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }

        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
            }
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(key_node) => entries.push((key_node, node)),
            },
        }
        Ok(())
    }
}

/// Reports every mapping key that repeats an earlier scalar key of the same
/// mapping. Recursion depth is bounded by [`Limits::max_depth`].
fn find_duplicate_keys(node: &Node, errors: &mut Vec<YamlError>) {
    match &node.value {
        Value::Scalar(_) => {}
        Value::Sequence(items) => items
            .iter()
            .for_each(|item| find_duplicate_keys(item, errors)),
        Value::Mapping(entries) => {
            let mut seen: HashMap<&str, Position> = HashMap::new();
            for (key, value) in entries {
                if let Some(text) = key.as_str() {
                    if let Some(first) = seen.get(text) {
                        errors.push(YamlError {
                            pos: key.pos,
                            message: format!(
                                "duplicate key \"{text}\" (first defined at line {})",
                                first.line
                            ),
                        });
                    } else {
                        seen.insert(text, key.pos);
                    }
                }
                find_duplicate_keys(value, errors);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str, style: ScalarStyle) -> Scalar {
        Scalar {
            text: text.to_string(),
            style,
            tag: None,
        }
    }

    fn parse_root(text: &str) -> Node {
        parse(text, &Limits::default()).unwrap().root.unwrap()
    }

    #[test]
    fn core_schema_resolution() {
        let cases = [
            ("", Resolved::Null),
            ("~", Resolved::Null),
            ("NULL", Resolved::Null),
            ("true", Resolved::Bool(true)),
            ("False", Resolved::Bool(false)),
            ("42", Resolved::Int(42)),
            ("-7", Resolved::Int(-7)),
            ("+3", Resolved::Int(3)),
            ("0o17", Resolved::Int(15)),
            ("0x1f", Resolved::Int(31)),
            ("3.10", Resolved::Float(3.1)),
            (".5", Resolved::Float(0.5)),
            ("1.", Resolved::Float(1.0)),
            ("1e3", Resolved::Float(1000.0)),
            ("-.inf", Resolved::Float(f64::NEG_INFINITY)),
            ("99999999999999999999", Resolved::Float(1e20)),
        ];
        for (text, expected) in cases {
            assert_eq!(
                scalar(text, ScalarStyle::Plain).resolve(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn yaml_1_1_forms_are_strings() {
        // YAML 1.1 read these as booleans, octal or sexagesimal numbers.
        for text in [
            "on",
            "off",
            "yes",
            "no",
            "y",
            "0777x",
            "5432:5432",
            "1_000",
            "0x",
            ".",
        ] {
            assert_eq!(
                scalar(text, ScalarStyle::Plain).resolve(),
                Resolved::String,
                "{text}"
            );
        }
    }

    #[test]
    fn quoted_and_tagged_scalars() {
        assert_eq!(
            scalar("true", ScalarStyle::DoubleQuoted).resolve(),
            Resolved::String
        );
        assert_eq!(
            scalar("1", ScalarStyle::Literal).resolve(),
            Resolved::String
        );
        let tagged = Scalar {
            tag: Some("tag:yaml.org,2002:str".to_string()),
            ..scalar("1", ScalarStyle::Plain)
        };
        assert_eq!(tagged.resolve(), Resolved::String);
        let root = parse_root("a: !!str 1.0\nb: !!int 7\n");
        let entries = root.as_mapping().unwrap();
        assert_eq!(
            entries[0].1.as_scalar().unwrap().resolve(),
            Resolved::String
        );
        assert_eq!(
            entries[1].1.as_scalar().unwrap().resolve(),
            Resolved::Int(7)
        );
    }

    #[test]
    fn on_key_reads_as_string() {
        let root = parse_root("on: push\n");
        let (key, value) = &root.as_mapping().unwrap()[0];
        assert_eq!(key.as_str(), Some("on"));
        assert_eq!(key.as_scalar().unwrap().resolve(), Resolved::String);
        assert_eq!(value.as_str(), Some("push"));
    }

    #[test]
    fn node_positions() {
        let root = parse_root("a: 1\nb:\n  - x\n  - {k: 'v'}\n");
        assert_eq!(root.pos, Position::new(1, 1));
        let entries = root.as_mapping().unwrap();
        assert_eq!(entries[0].0.pos, Position::new(1, 1));
        assert_eq!(entries[0].1.pos, Position::new(1, 4));
        let items = entries[1].1.as_sequence().unwrap();
        assert_eq!(entries[1].1.pos, Position::new(3, 3));
        assert_eq!(items[0].pos, Position::new(3, 5));
        assert_eq!(items[1].pos, Position::new(4, 5));
        let (key, value) = &items[1].as_mapping().unwrap()[0];
        assert_eq!(key.pos, Position::new(4, 6));
        assert_eq!(value.pos, Position::new(4, 9));
    }

    #[test]
    fn position_inside_scalars() {
        let root = parse_root("p: ab${{x\nq: 'ab${{x'\nr: |\n  line\n  ab${{x\n");
        let entries = root.as_mapping().unwrap();
        let offset = 2;

        let plain = &entries[0].1;
        let position = plain.as_scalar().unwrap().position_of(plain.pos, offset);
        assert_eq!(position, Position::new(1, 6));

        let quoted = &entries[1].1;
        let position = quoted.as_scalar().unwrap().position_of(quoted.pos, offset);
        assert_eq!(position, Position::new(2, 7));

        let literal = &entries[2].1;
        let literal_offset = "line\nab".len();
        let position = literal
            .as_scalar()
            .unwrap()
            .position_of(literal.pos, literal_offset);
        assert_eq!(position, Position::new(5, 5));
    }

    #[test]
    fn duplicate_keys_are_listed() {
        let document = parse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", &Limits::default()).unwrap();
        let messages: Vec<String> = document
            .duplicate_keys
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "4:3: duplicate key \"c\" (first defined at line 3)",
                "5:1: duplicate key \"a\" (first defined at line 1)",
            ]
        );
    }

    #[test]
    fn alias_copy_takes_alias_position() {
        let root = parse_root("a: &x [1, 2]\nb: *x\n");
        let entries = root.as_mapping().unwrap();
        assert_eq!(entries[1].1.pos, Position::new(2, 4));
        assert_eq!(entries[1].1.as_sequence().unwrap().len(), 2);
    }

    #[test]
    fn empty_document_has_no_root() {
        let document = parse("# comment only\n", &Limits::default()).unwrap();
        assert_eq!(document.root, None);
    }
}
