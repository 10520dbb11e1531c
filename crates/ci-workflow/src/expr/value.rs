//! Values of the expression language and the conversions GitHub applies to
//! them.
//!
//! A value is null, a boolean, a number (always a 64-bit float), a string,
//! an array or an object. Object keys are looked up ignoring case, as GitHub
//! does for context properties. Arrays and objects sit behind an [`Arc`] so
//! that copying a context value is cheap and so that `==` can compare them by
//! identity, the only equality GitHub defines for them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// A value produced or consumed by an expression.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Arc<Vec<Value>>),
    Object(Arc<Object>),
}

/// The type of a [`Value`], as named in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    /// Returns the lower-case name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// An object whose keys keep their insertion order and spelling but are
/// looked up ignoring case.
#[derive(Clone, Debug, Default)]
pub struct Object {
    entries: Vec<(String, Value)>,
    /// Folded key to position, built once the object has more than
    /// [`INDEX_THRESHOLD`] properties. Smaller objects are scanned.
    index: Option<HashMap<String, usize>>,
}

/// The number of properties up to which lookups scan the entries instead of
/// hashing: most context objects are small, and a scan needs no allocation.
const INDEX_THRESHOLD: usize = 8;

impl Object {
    /// Creates an empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a property. A key that differs from an existing one only in
    /// case replaces that property's value and keeps the first spelling.
    /// Returns the value it replaced.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        if let Some(position) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[position].1, value));
        }

        let position = self.entries.len();
        if let Some(index) = &mut self.index {
            index.insert(fold_case(&key), position);
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEX_THRESHOLD {
            self.index = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(position, (key, _))| (fold_case(key), position))
                    .collect(),
            );
        }
        None
    }

    /// Looks up a property ignoring case.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|position| &self.entries[position].1)
    }

    fn position(&self, key: &str) -> Option<usize> {
        let Some(index) = &self.index else {
            return self
                .entries
                .iter()
                .position(|(existing, _)| eq_ignore_case(existing, key));
        };
        if key.is_ascii() && !key.bytes().any(|b| b.is_ascii_lowercase()) {
            index.get(key).copied()
        } else {
            index.get(&fold_case(key)).copied()
        }
    }

    /// Returns the number of properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns whether the object has no properties.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Iterates over the properties in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    /// Iterates over the property values in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(_, value)| value)
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut object = Object::new();
        for (key, value) in iter {
            object.insert(key, value);
        }
        object
    }
}

/// Folds a string for case-insensitive comparison the way .NET's
/// `OrdinalIgnoreCase` does: every character is upper-cased on its own, and a
/// character whose upper case is more than one character stays unchanged.
pub(crate) fn fold_case(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_uppercase();
    }
    text.chars().map(upper_char).collect()
}

fn upper_char(c: char) -> char {
    // GitHub's ordinal case-insensitive comparison leaves the dotless i
    // unchanged, so it does not equal the capital I.
    if c == 'ı' {
        return c;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// Compares two strings ignoring case (ordinal order of the upper-cased text).
pub(crate) fn compare_ignore_case(left: &str, right: &str) -> std::cmp::Ordering {
    let left = left.chars().map(upper_char);
    let right = right.chars().map(upper_char);
    left.cmp(right)
}

/// Returns whether two strings are equal ignoring case.
pub(crate) fn eq_ignore_case(left: &str, right: &str) -> bool {
    if left.is_ascii() && right.is_ascii() {
        return left.eq_ignore_ascii_case(right);
    }
    compare_ignore_case(left, right).is_eq()
}

impl Value {
    /// Returns the type of the value.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    /// Returns whether the value is null, a boolean, a number or a string.
    pub fn is_primitive(&self) -> bool {
        !matches!(self, Value::Array(_) | Value::Object(_))
    }

    /// Creates a string value.
    pub fn string(text: impl Into<String>) -> Self {
        Value::String(text.into())
    }

    /// Creates an array value.
    pub fn array(items: Vec<Value>) -> Self {
        Value::Array(Arc::new(items))
    }

    /// Creates an object value.
    pub fn object(object: Object) -> Self {
        Value::Object(Arc::new(object))
    }

    /// Looks up a property of an object ignoring case. Any other value has
    /// no properties.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(object) => object.get(key),
            _ => None,
        }
    }

    /// Returns the text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// Converts the value to a boolean: `false`, `0`, `-0`, `NaN`, `""` and
    /// `null` are false, everything else (every array and object included)
    /// is true.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(value) => *value,
            Value::Number(number) => *number != 0.0 && !number.is_nan(),
            Value::String(text) => !text.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// Converts the value to a number as loose equality does: null is 0,
    /// booleans are 1 and 0, strings are parsed by [`parse_number`], arrays
    /// and objects are NaN.
    pub fn to_number(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Bool(value) => f64::from(u8::from(*value)),
            Value::Number(number) => *number,
            Value::String(text) => parse_number(text),
            Value::Array(_) | Value::Object(_) => f64::NAN,
        }
    }

    /// Converts the value to a string as `format`, `join`, `contains`,
    /// `startsWith` and `endsWith` do: null is empty, numbers use
    /// [`format_number`], an array is `Array` and an object is `Object`.
    pub fn to_display_string(&self) -> String {
        match self {
            Value::Array(_) => "Array".to_owned(),
            Value::Object(_) => "Object".to_owned(),
            primitive => primitive_to_string(primitive),
        }
    }

    /// Renders the value as JSON the way `toJSON` does: two-space
    /// indentation, `"key": value` pairs, `[]` and `{}` for empty containers,
    /// and numbers in the same form as [`format_number`]. Like GitHub's
    /// runner, it writes NaN and the infinities bare (`NaN`, `Infinity`) and
    /// large numbers in exponent form (`1E+20`), which strict JSON parsers
    /// reject.
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::new();
        write_json(self, 0, &mut out);
        out
    }

    /// Converts the value to a `serde_json` value. NaN and the infinities
    /// become the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, and
    /// integral numbers that fit an `i64` become JSON integers.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(value) => serde_json::Value::Bool(*value),
            Value::Number(number) => number_to_json(*number),
            Value::String(text) => serde_json::Value::String(text.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(object) => serde_json::Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.to_owned(), value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Converts a `serde_json` value. Numbers become 64-bit floats, so
    /// integers above 2^53 lose precision as they do on GitHub.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(value) => Value::Bool(*value),
            serde_json::Value::Number(number) => Value::Number(number.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(text) => Value::String(text.clone()),
            serde_json::Value::Array(items) => {
                Value::array(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::object(
                map.iter()
                    .map(|(key, value)| (key.clone(), Value::from_json(value)))
                    .collect(),
            ),
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        Value::from_json(&json)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Self {
        Value::from_json(json)
    }
}

impl From<&Value> for serde_json::Value {
    fn from(value: &Value) -> Self {
        value.to_json()
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Number(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::String(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::String(value)
    }
}

/// Structural equality, for tests and callers. The expression language's own
/// `==` is [`loose_equal`], which compares arrays and objects by identity.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(left), Value::Bool(right)) => left == right,
            (Value::Number(left), Value::Number(right)) => {
                left == right || (left.is_nan() && right.is_nan())
            }
            (Value::String(left), Value::String(right)) => left == right,
            (Value::Array(left), Value::Array(right)) => left == right,
            (Value::Object(left), Value::Object(right)) => {
                left.len() == right.len()
                    && left
                        .iter()
                        .zip(right.iter())
                        .all(|(l, r)| l.0 == r.0 && l.1 == r.1)
            }
            _ => false,
        }
    }
}

fn primitive_to_string(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "true".to_owned(),
        Value::Bool(false) => "false".to_owned(),
        Value::Number(number) => format_number(*number),
        Value::String(text) => text.clone(),
        Value::Array(_) | Value::Object(_) => unreachable!("only primitives reach here"),
    }
}

/// Parses a string as a number the way GitHub coerces strings. Surrounding
/// whitespace is ignored and an empty string is 0. Decimal numbers with an
/// optional sign, fraction and exponent are accepted, and so are `0x`
/// hexadecimal and `0o` octal integers, `Infinity`, `-Infinity` and `NaN`.
/// Anything else is NaN.
pub fn parse_number(text: &str) -> f64 {
    let text = text.trim();
    if text.is_empty() {
        return 0.0;
    }
    if is_decimal_number(text) {
        return text.parse().unwrap_or(f64::NAN);
    }
    if let Some(digits) = text.strip_prefix("0x") {
        return parse_int32(digits, 16);
    }
    if let Some(digits) = text.strip_prefix("0o") {
        return parse_int32(digits, 8);
    }
    match text {
        "Infinity" | "+Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => f64::NAN,
    }
}

/// Returns whether `text` is `[+-]digits[.digits][(e|E)[+-]digits]`, where either the
/// integer or the fraction digits may be missing but not both.
fn is_decimal_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut position = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        position += 1;
    }
    let integer_digits = count_digits(&bytes[position..]);
    position += integer_digits;
    let mut fraction_digits = 0;
    if bytes.get(position) == Some(&b'.') {
        position += 1;
        fraction_digits = count_digits(&bytes[position..]);
        position += fraction_digits;
    }
    if integer_digits + fraction_digits == 0 {
        return false;
    }
    if matches!(bytes.get(position), Some(b'e' | b'E')) {
        position += 1;
        if matches!(bytes.get(position), Some(b'+' | b'-')) {
            position += 1;
        }
        let exponent_digits = count_digits(&bytes[position..]);
        if exponent_digits == 0 {
            return false;
        }
        position += exponent_digits;
    }
    position == bytes.len()
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Parses hexadecimal or octal digits as a 32-bit integer. Like GitHub's
/// runner, a value that fits 32 bits but not a signed 32-bit integer wraps
/// to a negative number (`0xffffffff` is -1), and a larger value is NaN.
fn parse_int32(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return f64::NAN;
    }
    match u32::from_str_radix(digits, radix) {
        Ok(bits) => f64::from(bits as i32),
        Err(_) => f64::NAN,
    }
}

/// Formats a number as GitHub converts numbers to strings. It keeps at most
/// 15 significant digits and writes integers without a fraction, negative
/// zero as `0`, and `NaN`, `Infinity` and `-Infinity` by name. Exponents of
/// 15 and above or -5 and below use scientific notation (`1E+15`, `1E-05`).
pub fn format_number(number: f64) -> String {
    if let Some(special) = special_number(number) {
        return special.to_owned();
    }
    if number == 0.0 {
        return "0".to_owned();
    }
    let (negative, digits, exponent) = decompose(&format!("{number:.14e}"));
    layout_number(negative, &digits, exponent, 15)
}

fn number_to_json(number: f64) -> serde_json::Value {
    if let Some(special) = special_number(number) {
        return serde_json::Value::String(special.to_owned());
    }
    if number.fract() == 0.0 && number.abs() < 9.2e18 {
        return serde_json::Value::from(number as i64);
    }
    serde_json::Number::from_f64(number).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

fn special_number(number: f64) -> Option<&'static str> {
    if number.is_nan() {
        Some("NaN")
    } else if number == f64::INFINITY {
        Some("Infinity")
    } else if number == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// Splits Rust's `{:e}` output (`-1.2340e5`) into the sign, the significant
/// digits without trailing zeros (`1234`) and the decimal exponent (5).
fn decompose(scientific: &str) -> (bool, String, i32) {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let negative = mantissa.starts_with('-');
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (negative, digits, exponent.parse().unwrap_or(0))
}

/// Lays out significant digits in fixed notation, or in .NET's scientific
/// notation (`1.5E+20`, `1E-05`) when the exponent is -5 or less, or at
/// least `precision`.
fn layout_number(negative: bool, digits: &str, exponent: i32, precision: i32) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if exponent < -4 || exponent >= precision {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "E{sign}{:02}", exponent.unsigned_abs());
    } else if exponent < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
        out.push_str(digits);
    } else {
        let integer_len = exponent as usize + 1;
        if digits.len() <= integer_len {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', integer_len - digits.len()));
        } else {
            out.push_str(&digits[..integer_len]);
            out.push('.');
            out.push_str(&digits[integer_len..]);
        }
    }
    out
}

fn write_json(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&format_number(*number)),
        Value::String(text) => write_json_string(text, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                push_newline_indent(out, indent + 1);
                write_json(item, indent + 1, out);
            }
            push_newline_indent(out, indent);
            out.push(']');
        }
        Value::Object(object) if object.is_empty() => out.push_str("{}"),
        Value::Object(object) => {
            out.push('{');
            for (position, (key, item)) in object.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                push_newline_indent(out, indent + 1);
                write_json_string(key, out);
                out.push_str(": ");
                write_json(item, indent + 1, out);
            }
            push_newline_indent(out, indent);
            out.push('}');
        }
    }
}

fn push_newline_indent(out: &mut String, indent: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent * 2));
}

/// Writes a JSON string literal, escaping quotes, backslashes, control
/// characters and the line separators U+0085, U+2028 and U+2029.
fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Converts two values for comparison as GitHub does when their types
/// differ: null and booleans become numbers, and a string compared with a
/// number becomes a number. Arrays and objects are never converted.
fn coerce<'a>(left: &'a Value, right: &'a Value) -> (CoercedOperand<'a>, CoercedOperand<'a>) {
    let as_number = |value: &Value| CoercedOperand::Number(value.to_number());
    match (left, right) {
        _ if left.kind() == right.kind() => {
            (CoercedOperand::Same(left), CoercedOperand::Same(right))
        }
        (Value::Array(_) | Value::Object(_), Value::Array(_) | Value::Object(_)) => {
            (CoercedOperand::Same(left), CoercedOperand::Same(right))
        }
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            (CoercedOperand::Unequal, CoercedOperand::Unequal)
        }
        _ => (as_number(left), as_number(right)),
    }
}

enum CoercedOperand<'a> {
    Same(&'a Value),
    Number(f64),
    Unequal,
}

/// Returns the order of two values after coercion, or `None` when they cannot be
/// compared (NaN, different container types, or arrays and objects, which
/// only compare equal to themselves).
fn compare(left: &Value, right: &Value) -> Option<std::cmp::Ordering> {
    match coerce(left, right) {
        (CoercedOperand::Number(l), CoercedOperand::Number(r)) => l.partial_cmp(&r),
        (CoercedOperand::Same(l), CoercedOperand::Same(r)) => match (l, r) {
            (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
            (Value::Bool(l), Value::Bool(r)) => Some(l.cmp(r)),
            (Value::Number(l), Value::Number(r)) => l.partial_cmp(r),
            (Value::String(l), Value::String(r)) => Some(compare_ignore_case(l, r)),
            _ => None,
        },
        _ => None,
    }
}

/// GitHub's `==`: primitives of different types are converted to numbers,
/// strings compare ignoring case, NaN equals nothing, and arrays and objects
/// are equal only to the same instance.
pub fn loose_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Array(l), Value::Array(r)) => Arc::ptr_eq(l, r),
        (Value::Object(l), Value::Object(r)) => Arc::ptr_eq(l, r),
        (Value::String(l), Value::String(r)) => eq_ignore_case(l, r),
        _ => compare(left, right).is_some_and(|order| order.is_eq()),
    }
}

/// GitHub's `<`: false whenever the values cannot be compared.
pub fn loose_less(left: &Value, right: &Value) -> bool {
    compare(left, right).is_some_and(|order| order.is_lt())
}

/// GitHub's `>`: false whenever the values cannot be compared.
pub fn loose_greater(left: &Value, right: &Value) -> bool {
    compare(left, right).is_some_and(|order| order.is_gt())
}

/// GitHub's `<=`: equal or less, so NaN is neither.
pub fn loose_less_equal(left: &Value, right: &Value) -> bool {
    loose_less(left, right) || loose_equal(left, right)
}

/// GitHub's `>=`: equal or greater, so NaN is neither.
pub fn loose_greater_equal(left: &Value, right: &Value) -> bool {
    loose_greater(left, right) || loose_equal(left, right)
}
