//! The repository's own CI settings: `.hashtree/ci.toml` at the
//! repository root.
//!
//! ```toml
//! [ci]
//! org_npub = "npub1..."        # owner of the repository's results
//!
//! [[ci.runners]]
//! npub = "npub1..."            # a runner whose results this repository trusts
//! name = "ci-1"
//! ```
//!
//! The file is optional. Sections other than `[ci]` are ignored, so other
//! hashtree tools can keep settings in the same file.

use std::path::{Path, PathBuf};

use super::table::{Section, parse_document};
use super::{ConfigError, read_optional};
use crate::dirs::display_path;
use crate::signing::parse_npub;

/// Path of the file relative to the repository root.
pub const REPO_CONFIG_PATH: &str = ".hashtree/ci.toml";

/// The contents of `.hashtree/ci.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoCiConfig {
    /// NIP-19 `npub` that owns the repository's results; when absent, the
    /// runner's own npub is the owner.
    pub org_npub: Option<String>,
    /// Runners this repository names as its own.
    pub runners: Vec<RepoRunner>,
}

/// One `[[ci.runners]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRunner {
    /// NIP-19 `npub` of the runner.
    pub npub: String,
    /// Display name of the runner.
    pub name: Option<String>,
}

impl RepoCiConfig {
    /// Returns the path of the file in the repository at `repo_root`.
    pub fn path_in(repo_root: &Path) -> PathBuf {
        repo_root.join(REPO_CONFIG_PATH)
    }

    /// Reads `.hashtree/ci.toml` of the repository at `repo_root`, or
    /// returns the empty default when the file does not exist.
    pub fn load(repo_root: &Path) -> Result<Self, ConfigError> {
        let path = Self::path_in(repo_root);
        match read_optional(&path)? {
            Some(text) => Self::parse(&text, &display_path(&path)),
            None => Ok(Self::default()),
        }
    }

    /// Parses the text of the file; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let document = parse_document(path, text)?;
        let root = Section::new(path, "top level", &document);
        let Some(ci) = root.table("ci", "[ci]")? else {
            return Ok(Self::default());
        };
        ci.check_known(&["org_npub", "runners"])?;

        let org_example = "org_npub = \"npub1...\"";
        let org_npub = ci.string("org_npub", org_example)?;
        if let Some(npub) = &org_npub {
            check_npub(&ci, "org_npub", npub, org_example)?;
        }

        let mut runners = Vec::new();
        for entry in ci.table_array("runners", "ci.runners")? {
            entry.check_known(&["npub", "name"])?;
            let example = "npub = \"npub1...\"";
            let npub = entry.required_string("npub", example)?;
            check_npub(&entry, "npub", &npub, example)?;
            let name = entry.string("name", "name = \"ci-1\"")?;
            runners.push(RepoRunner { npub, name });
        }
        Ok(RepoCiConfig { org_npub, runners })
    }
}

fn check_npub(
    section: &Section<'_>,
    key: &str,
    npub: &str,
    example: &str,
) -> Result<(), ConfigError> {
    parse_npub(npub).map(|_| ()).map_err(|reason| {
        section.invalid(
            key,
            format!("invalid npub {npub:?} ({reason}); expected a NIP-19 npub, like {example}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPUB_OF_3: &str = "npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266";

    #[test]
    fn parses_org_and_runners() {
        let text = format!(
            "[ci]\norg_npub = \"{NPUB_OF_3}\"\n\n[[ci.runners]]\nnpub = \"{NPUB_OF_3}\"\nname = \"ci-1\"\n"
        );
        let config = RepoCiConfig::parse(&text, "ci.toml").unwrap();
        assert_eq!(config.org_npub.as_deref(), Some(NPUB_OF_3));
        assert_eq!(
            config.runners,
            [RepoRunner {
                npub: NPUB_OF_3.to_string(),
                name: Some("ci-1".to_string())
            }]
        );
    }

    #[test]
    fn missing_file_or_section_is_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            RepoCiConfig::load(dir.path()).unwrap(),
            RepoCiConfig::default()
        );
        assert_eq!(
            RepoCiConfig::parse("[other]\nx = 1\n", "ci.toml").unwrap(),
            RepoCiConfig::default()
        );
    }

    #[test]
    fn invalid_npub_is_named() {
        let message = RepoCiConfig::parse("[ci]\norg_npub = \"npub1nope\"\n", "ci.toml")
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("ci.toml: [ci] org_npub: invalid npub \"npub1nope\""),
            "{message}"
        );
    }

    #[test]
    fn runner_without_npub_is_named() {
        let message = RepoCiConfig::parse("[[ci.runners]]\nname = \"x\"\n", "ci.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "ci.toml: [[ci.runners]] #1 npub: missing; expected a string, like npub = \"npub1...\""
        );
    }

    #[test]
    fn load_reads_repo_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".hashtree")).unwrap();
        std::fs::write(
            dir.path().join(".hashtree/ci.toml"),
            format!("[ci]\norg_npub = \"{NPUB_OF_3}\"\n"),
        )
        .unwrap();
        let config = RepoCiConfig::load(dir.path()).unwrap();
        assert_eq!(config.org_npub.as_deref(), Some(NPUB_OF_3));
    }
}
