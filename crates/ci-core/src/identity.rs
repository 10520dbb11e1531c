//! The runner's identity: its Nostr secret key and the labels that
//! describe its host.
//!
//! A runner is known by its NIP-19 `npub`; results are signed with the
//! matching secret key, stored as an `nsec` in `runner.toml`. The
//! [`SecretKey`] wrapper keeps that secret out of every `Debug` and
//! `Display` output, so it cannot leak through a log line or an error.

use std::fmt;

use nostr::key::Keys;
use nostr::nips::nip19::{FromBech32, ToBech32};

use crate::signing::npub_of;

/// A runner's Nostr secret key. `Debug` and `Display` print `nsec1***`.
#[derive(Clone)]
pub struct SecretKey(nostr::key::SecretKey);

/// Error for a value that is not a valid `nsec`. It never contains the
/// value, which may be a real secret with a typo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid secret key: expected a NIP-19 nsec (63 characters starting with nsec1)")]
pub struct InvalidSecretKey;

impl SecretKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate() -> Self {
        SecretKey(nostr::key::SecretKey::generate())
    }

    /// Parses a NIP-19 `nsec`.
    pub fn from_nsec(nsec: &str) -> Result<Self, InvalidSecretKey> {
        if !nsec.starts_with("nsec1") {
            return Err(InvalidSecretKey);
        }
        nostr::key::SecretKey::from_bech32(nsec)
            .map(SecretKey)
            .map_err(|_| InvalidSecretKey)
    }

    /// Returns the key as NIP-19 `nsec`. This reveals the secret: only
    /// write it to the mode-0600 identity file.
    pub fn to_nsec(&self) -> String {
        // NOTE: bech32 encoding of 32 bytes cannot fail; the fallback is an
        // empty string, which no reader accepts as a key.
        self.0.to_bech32().unwrap_or_default()
    }

    /// Returns the key pair used for signing.
    pub fn keys(&self) -> Keys {
        Keys::new(self.0.clone())
    }

    /// Returns the NIP-19 `npub` of the matching public key.
    pub fn npub(&self) -> String {
        npub_of(&self.keys())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nsec1***")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nsec1***")
    }
}

/// Returns the GitHub runner label of this machine's architecture: `x64`,
/// `arm64`, `x86` or `arm`, and Rust's own name for any other.
pub fn arch_label() -> &'static str {
    arch_label_of(std::env::consts::ARCH)
}

fn arch_label_of(rust_arch: &'static str) -> &'static str {
    match rust_arch {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm",
        other => other,
    }
}

/// Returns the tags of a runner created without any: `linux` and the
/// architecture label.
pub fn default_tags() -> Vec<String> {
    vec!["linux".to_string(), arch_label().to_string()]
}

/// Returns the name of a runner created without one: the host name, or
/// `htci-runner` when it cannot be read.
pub fn default_runner_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "htci-runner".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NSEC_OF_3: &str = "nsec1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqps52s3re";

    #[test]
    fn debug_and_display_hide_the_secret() {
        let key = SecretKey::generate();
        let nsec = key.to_nsec();
        assert!(nsec.starts_with("nsec1"));
        assert_eq!(format!("{key:?}"), "nsec1***");
        assert_eq!(format!("{key}"), "nsec1***");
        assert!(!format!("{:?}", Some(&key)).contains(&nsec));
    }

    #[test]
    fn nsec_round_trips() {
        let key = SecretKey::generate();
        let parsed = SecretKey::from_nsec(&key.to_nsec()).unwrap();
        assert_eq!(parsed.npub(), key.npub());
        assert!(key.npub().starts_with("npub1"));
    }

    #[test]
    fn known_nsec_vector() {
        let key = SecretKey::from_nsec(NSEC_OF_3).unwrap();
        assert_eq!(
            key.keys().public_key().to_hex(),
            "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
        );
    }

    #[test]
    fn invalid_nsec_error_hides_the_value() {
        let secret_like = "nsec1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqps52s3rX";
        let error = SecretKey::from_nsec(secret_like).unwrap_err();
        assert!(!error.to_string().contains(secret_like));
        assert!(SecretKey::from_nsec("npub1abc").is_err());
        assert!(
            SecretKey::from_nsec(
                "0000000000000000000000000000000000000000000000000000000000000003"
            )
            .is_err()
        );
    }

    #[test]
    fn arch_labels_follow_github() {
        assert_eq!(arch_label_of("x86_64"), "x64");
        assert_eq!(arch_label_of("aarch64"), "arm64");
        assert_eq!(arch_label_of("riscv64"), "riscv64");
    }

    #[test]
    fn default_tags_start_with_linux() {
        let tags = default_tags();
        assert_eq!(tags[0], "linux");
        assert_eq!(tags[1], arch_label());
    }
}
