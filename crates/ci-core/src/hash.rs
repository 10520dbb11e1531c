//! SHA-256 digests as bare lowercase hex, the form every result uses.

use sha2::{Digest, Sha256};

/// Returns the lowercase hex SHA-256 of `bytes` (64 characters, no prefix).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Returns the `repo_hash` of a repository: the lowercase hex SHA-256 of
/// the UTF-8 string `<owner-npub>/<repo-path>`.
///
/// For example, owner `npub1abc…` and repo path `tools/htci` hash the
/// string `npub1abc…/tools/htci`. The repo path has no leading or trailing
/// slash.
pub fn repo_hash(owner_npub: &str, repo_path: &str) -> String {
    sha256_hex(format!("{owner_npub}/{repo_path}").as_bytes())
}

/// Returns true when `value` is 64 lowercase hex characters.
pub fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn repo_hash_hashes_owner_slash_path() {
        let owner = "npub1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq";
        assert_eq!(
            repo_hash(owner, "tools/htci"),
            sha256_hex(format!("{owner}/tools/htci").as_bytes())
        );
        assert_ne!(
            repo_hash(owner, "tools/htci"),
            repo_hash(owner, "tools/other")
        );
    }

    #[test]
    fn sha256_hex_shape() {
        assert!(is_sha256_hex(&sha256_hex(b"x")));
        assert!(!is_sha256_hex(&sha256_hex(b"x").to_uppercase()));
        assert!(!is_sha256_hex("abc"));
    }
}
