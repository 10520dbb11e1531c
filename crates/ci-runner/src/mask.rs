//! Secret masking.
//!
//! Every string that leaves a step (terminal lines, stored logs, outputs,
//! step names and error messages in results) passes through a [`Masker`],
//! which replaces each registered value with `***`. A multi-line value is
//! registered line by line, because a process prints it line by line and
//! the log is masked one line at a time. Steps add values at run time with
//! the `::add-mask::VALUE` workflow command. Empty values are never masks.
//!
//! Each value is also registered in base64, as GitHub's runner does, so a
//! step that prints `base64 <<< "$SECRET"` or a token inside a base64
//! `Authorization: Basic` header is masked too. See [`base64_variants`].
//!
//! A line too long to hold whole arrives in pieces; [`Masker::mask_piece`]
//! masks each piece and carries over the bytes that may still begin a
//! value, so a value split between two pieces is masked too.

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
            if candidate.trim().is_empty() {
                continue;
            }
            let encodings = base64_variants(candidate.as_bytes());
            for value in std::iter::once(candidate.to_string()).chain(encodings) {
                if !values.contains(&value) {
                    values.push(value);
                }
            }
        }

        // Sorted by length, longest first, so a value containing a shorter one
        // is hidden whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Returns how many values are registered. It only grows, so an
    /// unchanged count means that no value was added in between.
    pub fn count(&self) -> usize {
        self.values.read().unwrap_or_else(|e| e.into_inner()).len()
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

    /// Masks `piece`, the next part of a line whose earlier parts were
    /// masked by this method with the same `carry`. Unless `line_end`, the
    /// bytes from the first position where a registered value may start
    /// but is not yet complete (and a trailing incomplete UTF-8 character)
    /// stay in `carry`, shorter than the longest value, for the next call.
    /// Values are replaced leftmost first, the longest at each position.
    pub fn mask_piece(&self, carry: &mut Vec<u8>, piece: &[u8], line_end: bool) -> String {
        let mut bytes = std::mem::take(carry);
        bytes.extend_from_slice(piece);
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());

        let scan_end = if line_end {
            bytes.len()
        } else {
            complete_utf8_len(&bytes)
        };
        let mut output = Vec::with_capacity(bytes.len());
        let mut position = 0;
        while position < scan_end {
            let rest = &bytes[position..scan_end];
            let may_continue = !line_end
                && values
                    .iter()
                    .any(|v| v.len() > rest.len() && v.as_bytes().starts_with(rest));
            if may_continue {
                break;
            }
            // Sorted longest first, so the first match is the longest.
            match values.iter().find(|v| rest.starts_with(v.as_bytes())) {
                Some(value) => {
                    output.extend_from_slice(MASK.as_bytes());
                    position += value.len();
                }
                None => {
                    output.push(bytes[position]);
                    position += 1;
                }
            }
        }
        *carry = bytes.split_off(position);
        String::from_utf8_lossy(&output).into_owned()
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

/// Shortest base64 text registered as a mask; a shorter one would hide
/// common words in unrelated output.
const MIN_BASE64_MASK_LEN: usize = 6;

/// Returns the base64 texts that appear in the base64 encoding of any
/// text containing `value`, whatever its offset. Base64 encodes groups of
/// three bytes, so the encoding of `value` appears as is when it starts a
/// group; at offset 1 (2) within a group, the encoding of `value` without
/// its first 2 (1) bytes does. Only the characters fixed by `value` alone
/// are kept: the last one, which also holds bits of the next byte, and the
/// `=` padding are dropped unless the length is a multiple of three.
///
/// NOTE: variants shorter than [`MIN_BASE64_MASK_LEN`] are not registered,
/// so the base64 of a very short secret at some offsets is not masked.
pub fn base64_variants(value: &[u8]) -> Vec<String> {
    (0..3)
        .filter_map(|skip| value.get(skip..))
        .map(|tail| {
            let mut encoded = base64_encode(tail);
            encoded.truncate(tail.len() * 8 / 6);
            encoded
        })
        .filter(|encoded| encoded.len() >= MIN_BASE64_MASK_LEN)
        .collect()
}

/// Encodes `bytes` in standard base64 (RFC 4648 alphabet) with padding.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let bits = group.iter().enumerate().fold(0u32, |bits, (i, &byte)| {
            bits | u32::from(byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= group.len() {
                let index = (bits >> (18 - 6 * i)) & 0x3f;
                encoded.push(char::from(ALPHABET[index as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

/// Returns the length of `bytes` without a UTF-8 character that is cut
/// off at the end.
fn complete_utf8_len(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let byte = bytes[len - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue;
        }
        let needed = match byte {
            0xf0..=0xff => 4,
            0xe0..=0xef => 3,
            0xc0..=0xdf => 2,
            _ => 1,
        };
        return if needed > back { len - back } else { len };
    }
    len
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

    /// Feeds `pieces` through [`Masker::mask_piece`] and joins the output.
    fn mask_in_pieces(masker: &Masker, pieces: &[&[u8]]) -> String {
        let mut carry = Vec::new();
        let mut output = String::new();
        for (index, piece) in pieces.iter().enumerate() {
            let last = index + 1 == pieces.len();
            output.push_str(&masker.mask_piece(&mut carry, piece, last));
        }
        assert!(carry.is_empty());
        output
    }

    #[test]
    fn piece_split_inside_value_is_masked() {
        let masker = Masker::new();
        masker.add("topsecret");
        for cut in 0..=11 {
            let text = b"a topsecret";
            let (first, second) = text.split_at(cut);
            assert_eq!(
                mask_in_pieces(&masker, &[first, second]),
                "a ***",
                "cut {cut}"
            );
        }
    }

    #[test]
    fn value_one_byte_per_piece_is_masked() {
        let masker = Masker::new();
        masker.add("hunter2");
        let text = b"x hunter2 y hunter";
        let pieces: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(mask_in_pieces(&masker, &pieces), "x *** y hunter");
    }

    #[test]
    fn piece_carry_holds_only_a_possible_start() {
        let masker = Masker::new();
        masker.add("secret");
        let mut carry = Vec::new();
        assert_eq!(masker.mask_piece(&mut carry, b"plain sec", false), "plain ");
        assert_eq!(carry, b"sec");
        assert_eq!(masker.mask_piece(&mut carry, b"ond", false), "second");
        assert_eq!(carry, b"");
    }

    #[test]
    fn piece_masks_longest_value_across_pieces() {
        let masker = Masker::new();
        masker.add("ab");
        masker.add("abcd");
        assert_eq!(mask_in_pieces(&masker, &[b"xab", b"cdy"]), "x***y");
        assert_eq!(mask_in_pieces(&masker, &[b"xab", b"cy"]), "x***cy");
    }

    #[test]
    fn base64_encoding_matches_rfc_4648() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, encoded) in cases {
            assert_eq!(base64_encode(raw), encoded);
        }
    }

    #[test]
    fn base64_variants_of_value() {
        assert_eq!(
            base64_variants(b"hunter2-secret"),
            [
                "aHVudGVyMi1zZWNyZX",
                "dW50ZXIyLXNlY3Jld",
                "bnRlcjItc2VjcmV0"
            ]
        );
        assert_eq!(base64_variants(b"abcd"), Vec::<String>::new());
    }

    #[test]
    fn base64_of_value_at_every_offset_is_masked() {
        let secret = "hunter2-secret";
        let masker = Masker::new();
        masker.add(secret);
        for prefix in ["", "x", "xy", "xyz", "user:", "Basic user:"] {
            for suffix in ["", "!", "\n", "-more"] {
                let text = format!("{prefix}{secret}{suffix}");
                let encoded = base64_encode(text.as_bytes());
                let masked = masker.mask(&encoded);
                assert!(masked.contains(MASK), "{text:?} as {encoded} -> {masked}");
                for variant in base64_variants(secret.as_bytes()) {
                    assert!(!masked.contains(&variant), "{text:?} -> {masked}");
                }
            }
        }
    }

    #[test]
    fn base64_at_offset_masked_exactly() {
        let masker = Masker::new();
        masker.add("hunter2-secret");
        // "hunter2-secret" at offsets 0, 1 and 2 of a base64 group.
        assert_eq!(masker.mask("aHVudGVyMi1zZWNyZXQ="), "***Q=");
        assert_eq!(masker.mask("eGh1bnRlcjItc2VjcmV0"), "eGh1***");
        assert_eq!(masker.mask("eHlodW50ZXIyLXNlY3JldA=="), "eHlo***A==");
    }

    #[test]
    fn base64_masked_in_pieces() {
        let masker = Masker::new();
        masker.add("hunter2-secret");
        let pieces: Vec<&[u8]> = b"key eGh1bnRlcjItc2VjcmV0 end".chunks(3).collect();
        assert_eq!(mask_in_pieces(&masker, &pieces), "key eGh1*** end");
    }

    #[test]
    fn piece_keeps_a_cut_utf8_character() {
        let masker = Masker::new();
        let text = "é".as_bytes();
        assert_eq!(
            mask_in_pieces(&masker, &[b"a", &text[..1], &text[1..]]),
            "aé"
        );
    }
}
