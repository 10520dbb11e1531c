//! Network settings shared with other hashtree tools:
//! `~/.hashtree/config.toml`.
//!
//! ```toml
//! [nostr]
//! relays = ["wss://relay.example.org"]
//!
//! [blossom]
//! servers = ["https://blossom.example.org"]
//! ```
//!
//! The file is optional. Without it, both lists are empty and htci
//! publishes nothing: there are no built-in default servers. Other tools
//! keep their own sections in the same file, so unknown sections and keys
//! are ignored here.

use std::path::Path;

use super::table::{Section, parse_document};
use super::{ConfigError, read_optional};
use crate::dirs::{display_path, hashtree_config_path};

/// Relays and Blossom servers used to publish results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashtreeConfig {
    /// Nostr relay URLs (`wss://` or `ws://`) for publishing tree roots.
    pub relays: Vec<String>,
    /// Blossom server URLs (`https://` or `http://`) for uploading blobs.
    pub blossom_servers: Vec<String>,
}

impl HashtreeConfig {
    /// Reads `~/.hashtree/config.toml`, or returns the empty default when
    /// the file does not exist.
    pub fn load_default() -> Result<Self, ConfigError> {
        Self::load_optional(&hashtree_config_path()?)
    }

    /// Reads the file at `path`, or returns the empty default when it does
    /// not exist.
    pub fn load_optional(path: &Path) -> Result<Self, ConfigError> {
        match read_optional(path)? {
            Some(text) => Self::parse(&text, &display_path(path)),
            None => Ok(Self::default()),
        }
    }

    /// Parses the text of the file; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let document = parse_document(path, text)?;
        let root = Section::new(path, "top level", &document);

        let relays = match root.table("nostr", "[nostr]")? {
            Some(nostr) => {
                let example = "relays = [\"wss://relay.example.org\"]";
                let relays = nostr.string_list("relays", example)?.unwrap_or_default();
                check_schemes(&nostr, "relays", &relays, &["wss://", "ws://"], example)?;
                relays
            }
            None => Vec::new(),
        };
        let blossom_servers = match root.table("blossom", "[blossom]")? {
            Some(blossom) => {
                let example = "servers = [\"https://blossom.example.org\"]";
                let servers = blossom.string_list("servers", example)?.unwrap_or_default();
                check_schemes(
                    &blossom,
                    "servers",
                    &servers,
                    &["https://", "http://"],
                    example,
                )?;
                servers
            }
            None => Vec::new(),
        };
        Ok(HashtreeConfig {
            relays,
            blossom_servers,
        })
    }
}

fn check_schemes(
    section: &Section<'_>,
    key: &str,
    urls: &[String],
    schemes: &[&str],
    example: &str,
) -> Result<(), ConfigError> {
    match urls
        .iter()
        .find(|url| !schemes.iter().any(|scheme| url.starts_with(scheme)))
    {
        None => Ok(()),
        Some(url) => Err(section.invalid(
            key,
            format!(
                "invalid URL {url:?}: expected URLs starting with {}, like {example}",
                schemes.join(" or ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relays_and_servers() {
        let text = r#"
[nostr]
relays = ["wss://relay.example.org", "ws://127.0.0.1:7777"]

[blossom]
servers = ["https://blossom.example.org"]

[other_tool]
anything = 1
"#;
        let config = HashtreeConfig::parse(text, "config.toml").unwrap();
        assert_eq!(
            config.relays,
            ["wss://relay.example.org", "ws://127.0.0.1:7777"]
        );
        assert_eq!(config.blossom_servers, ["https://blossom.example.org"]);
    }

    #[test]
    fn missing_file_is_empty_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = HashtreeConfig::load_optional(&dir.path().join("config.toml")).unwrap();
        assert_eq!(config, HashtreeConfig::default());
        assert!(config.relays.is_empty());
    }

    #[test]
    fn wrong_scheme_is_named() {
        let text = "[nostr]\nrelays = [\"https://relay.example.org\"]\n";
        let message = HashtreeConfig::parse(text, "config.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "config.toml: [nostr] relays: invalid URL \"https://relay.example.org\": expected \
             URLs starting with wss:// or ws://, like relays = [\"wss://relay.example.org\"]"
        );
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[nostr\n").unwrap();
        let error = HashtreeConfig::load_optional(&path).unwrap_err();
        assert!(matches!(error, ConfigError::Syntax { .. }));
    }
}
