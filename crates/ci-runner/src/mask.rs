//! Secret masking.
//!
//! Every string that leaves a step (terminal lines, stored logs, outputs,
//! step names and error messages in results) passes through a [`Masker`],
//! which replaces each registered value with `***`. A multi-line value is
//! registered line by line, because a process prints it line by line and
//! the log is masked one line at a time. Steps add values at run time with
//! the `::add-mask::VALUE` workflow command. Empty values are never masks.

use std::sync::{Arc, RwLock};

/// The replacement text of a masked value.
pub const MASK: &str = "***";

/// A shared, growing set of values to hide. Clones share the same set.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    values: Arc<RwLock<Vec<String>>>,
}

impl Masker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `value` and, for a multi-line value, each of its lines.
    pub fn add(&self, value: &str) {
        let mut candidates: Vec<&str> = vec![value];
        if value.contains('\n') {
            candidates.extend(value.lines());
        }

        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        for candidate in candidates {
            let candidate = candidate.trim_end_matches('\r');
            if candidate.trim().is_empty() || values.iter().any(|v| v == candidate) {
                continue;
            }
            values.push(candidate.to_string());
        }

        // Sorted by length, longest first, so a value containing a shorter one
        // is hidden whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Returns `text` with every registered value replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let mut masked = text.to_string();
        for value in values.iter() {
            if masked.contains(value.as_str()) {
                masked = masked.replace(value.as_str(), MASK);
            }
        }
        masked
    }

    /// Masks every string inside a JSON value, keys included.
    pub fn mask_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;

        match value {
            Value::String(text) => Value::String(self.mask(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.mask(k), self.mask_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence() {
        let masker = Masker::new();
        masker.add("hunter2");
        assert_eq!(masker.mask("a hunter2 b hunter2"), "a *** b ***");
    }

    #[test]
    fn empty_value_is_not_a_mask() {
        let masker = Masker::new();
        masker.add("");
        masker.add("  ");
        assert_eq!(masker.mask("plain text"), "plain text");
    }

    #[test]
    fn multi_line_value_masks_each_line() {
        let masker = Masker::new();
        masker.add("first-line\nsecond-line\n");
        assert_eq!(masker.mask("x first-line"), "x ***");
        assert_eq!(masker.mask("second-line y"), "*** y");
    }

    #[test]
    fn longer_value_masked_whole() {
        let masker = Masker::new();
        masker.add("abc");
        masker.add("abcdef");
        assert_eq!(masker.mask("abcdef"), "***");
    }

    #[test]
    fn clones_share_values() {
        let masker = Masker::new();
        let clone = masker.clone();
        clone.add("later");
        assert_eq!(masker.mask("later"), "***");
    }

    #[test]
    fn masks_json_strings() {
        let masker = Masker::new();
        masker.add("s3cr3t");
        let value = serde_json::json!({"a": ["s3cr3t", 1], "s3cr3t": "x"});
        assert_eq!(
            masker.mask_json(&value),
            serde_json::json!({"a": ["***", 1], "***": "x"})
        );
    }
}
