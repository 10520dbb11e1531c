//! Network settings shared with other hashtree tools:
//! `~/.hashtree/config.toml`.
//!
//! ```toml
//! [nostr]
//! relays = ["wss://relay.example.org"]
//!
//! [blossom]
//! read_servers = ["https://cdn.example.org"]
//! write_servers = ["https://upload.example.org"]
//! max_upload_mb = 100
//! ```
//!
//! The section and key names follow the hashtree tools (hashtree-cli,
//! git-remote-htree), which read the same file. Other sections and keys
//! belong to those tools and are ignored here.
//!
//! The file is optional. Unlike those tools, htci has no built-in default
//! servers: without the file, every list is empty and htci publishes
//! nothing.

use std::path::Path;

use super::table::{Section, parse_document};
use super::{ConfigError, read_optional};
use crate::dirs::{display_path, hashtree_config_path};

/// Relays and Blossom servers used to publish and fetch results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashtreeConfig {
    /// Nostr relay URLs (`wss://` or `ws://`) for publishing tree roots.
    pub relays: Vec<String>,
    /// Blossom server URLs (`https://` or `http://`) to fetch blobs from.
    pub blossom_read_servers: Vec<String>,
    /// Blossom server URLs (`https://` or `http://`) to upload blobs to.
    pub blossom_write_servers: Vec<String>,
    /// Largest blob to upload, in MiB; `None` when the file sets no limit.
    pub max_upload_mb: Option<u64>,
}

const RELAYS_EXAMPLE: &str = "relays = [\"wss://relay.example.org\"]";
const READ_EXAMPLE: &str = "read_servers = [\"https://cdn.example.org\"]";
const WRITE_EXAMPLE: &str = "write_servers = [\"https://upload.example.org\"]";
const WS_SCHEMES: &[&str] = &["wss://", "ws://"];
const HTTP_SCHEMES: &[&str] = &["https://", "http://"];

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

    /// Parses the text of the file. `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let document = parse_document(path, text)?;
        let root = Section::new(path, "top level", &document);
        let mut config = HashtreeConfig::default();

        if let Some(nostr) = root.table("nostr", "[nostr]")? {
            config.relays = url_list(&nostr, "relays", WS_SCHEMES, RELAYS_EXAMPLE)?;
        }
        if let Some(blossom) = root.table("blossom", "[blossom]")? {
            config.blossom_read_servers =
                url_list(&blossom, "read_servers", HTTP_SCHEMES, READ_EXAMPLE)?;
            config.blossom_write_servers =
                url_list(&blossom, "write_servers", HTTP_SCHEMES, WRITE_EXAMPLE)?;
            config.max_upload_mb = blossom.integer("max_upload_mb", 1, "max_upload_mb = 100")?;
        }
        Ok(config)
    }
}

/// Reads a list of URLs that must start with one of `schemes`.
fn url_list(
    section: &Section<'_>,
    key: &str,
    schemes: &[&str],
    example: &str,
) -> Result<Vec<String>, ConfigError> {
    let urls = section.string_list(key, example)?.unwrap_or_default();
    match urls
        .iter()
        .find(|url| !schemes.iter().any(|scheme| url.starts_with(scheme)))
    {
        None => Ok(urls),
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
read_servers = ["https://cdn.example.org"]
write_servers = ["http://127.0.0.1:3000"]
max_upload_mb = 25

[server]
enable_webrtc = true
"#;
        let config = HashtreeConfig::parse(text, "config.toml").unwrap();
        assert_eq!(
            config.relays,
            ["wss://relay.example.org", "ws://127.0.0.1:7777"]
        );
        assert_eq!(config.blossom_read_servers, ["https://cdn.example.org"]);
        assert_eq!(config.blossom_write_servers, ["http://127.0.0.1:3000"]);
        assert_eq!(config.max_upload_mb, Some(25));
    }

    #[test]
    fn missing_file_is_empty_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = HashtreeConfig::load_optional(&dir.path().join("config.toml")).unwrap();
        assert_eq!(config, HashtreeConfig::default());
        assert!(config.relays.is_empty());
        assert!(config.blossom_write_servers.is_empty());
    }

    #[test]
    fn keys_of_other_tools_are_ignored() {
        let text = "[nostr]\nrelays = []\nsocialgraph_root = \"npub1x\"\n[sync]\nenabled = true\n";
        let config = HashtreeConfig::parse(text, "config.toml").unwrap();
        assert_eq!(config, HashtreeConfig::default());
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
    fn wrong_type_is_named() {
        let text = "[blossom]\nwrite_servers = \"https://upload.example.org\"\n";
        let message = HashtreeConfig::parse(text, "config.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "config.toml: [blossom] write_servers: expected a list of strings, like \
             write_servers = [\"https://upload.example.org\"]"
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
