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
//!
//! The repository may be untrusted, and the runner reads this file on the
//! host. So the file is read only when it is a regular file inside the
//! repository, of at most [`MAX_REPO_CONFIG_BYTES`]. A symbolic link (the
//! file itself or the `.hashtree` directory), a FIFO or a device is an
//! error that names only what was found, never its content. A link to
//! `/dev/zero` thus cannot exhaust memory, and a link to a host file cannot
//! leak it through a parse error.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::ConfigError;
use super::table::{Section, parse_document};
use crate::dirs::display_path;
use crate::signing::parse_npub;

/// Path of the file relative to the repository root.
pub const REPO_CONFIG_PATH: &str = ".hashtree/ci.toml";

/// Largest `.hashtree/ci.toml` the runner reads. A real file contains a
/// few npubs, well under 1 KiB.
pub const MAX_REPO_CONFIG_BYTES: u64 = 64 << 10;

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
        match read_repo_file(repo_root, &path)? {
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

/// Reads `.hashtree/ci.toml` at `path` without following symbolic links,
/// as a regular file of at most [`MAX_REPO_CONFIG_BYTES`]. Returns
/// `Ok(None)` when the file or the `.hashtree` directory does not exist.
fn read_repo_file(repo_root: &Path, path: &Path) -> Result<Option<String>, ConfigError> {
    let untrusted = |reason: &str| ConfigError::Untrusted {
        path: display_path(path),
        reason: reason.to_string(),
    };

    let dir = repo_root.join(".hashtree");
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(untrusted(
                "the .hashtree directory is a symbolic link; make it a plain directory inside \
                 the repository",
            ));
        }
        Ok(meta) if !meta.is_dir() => return Ok(None),
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(ConfigError::read(path, error)),
    }

    // O_NOFOLLOW rejects a link in the last component; O_NONBLOCK keeps
    // the open of a FIFO from waiting for a writer.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(untrusted(
                "is a symbolic link; htci reads it only as a regular file inside the repository",
            ));
        }
        Err(error) => return Err(ConfigError::read(path, error)),
    };
    let meta = file.metadata().map_err(|e| ConfigError::read(path, e))?;
    if !meta.is_file() {
        return Err(untrusted(
            "is not a regular file (a directory, FIFO, socket or device); make it a regular file",
        ));
    }

    let mut bytes = Vec::new();
    file.take(MAX_REPO_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError::read(path, e))?;
    if bytes.len() as u64 > MAX_REPO_CONFIG_BYTES {
        return Err(untrusted(&format!(
            "larger than the limit of {MAX_REPO_CONFIG_BYTES} bytes; keep only the [ci] settings in it"
        )));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| untrusted("is not valid UTF-8; save it as UTF-8 text"))
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

    fn repo_with_hashtree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".hashtree")).unwrap();
        dir
    }

    fn load_error(repo: &Path) -> String {
        RepoCiConfig::load(repo).unwrap_err().to_string()
    }

    #[test]
    fn symlinked_file_is_rejected_without_content() {
        let repo = repo_with_hashtree();
        let secret = repo.path().join("outside-secret");
        std::fs::write(&secret, "[ci]\norg_npub = \"HOSTSECRET-abc\"\n").unwrap();
        std::os::unix::fs::symlink(&secret, repo.path().join(".hashtree/ci.toml")).unwrap();

        let message = load_error(repo.path());
        let path = repo.path().join(".hashtree/ci.toml");
        assert_eq!(
            message,
            format!(
                "{}: is a symbolic link; htci reads it only as a regular file inside the repository",
                display_path(&path)
            )
        );
        assert!(!message.contains("HOSTSECRET"));
    }

    #[test]
    fn link_to_dev_zero_is_rejected() {
        let repo = repo_with_hashtree();
        std::os::unix::fs::symlink("/dev/zero", repo.path().join(".hashtree/ci.toml")).unwrap();
        let message = load_error(repo.path());
        assert!(
            message.ends_with(
                ": is a symbolic link; htci reads it only as a regular file inside the repository"
            ),
            "{message}"
        );
    }

    #[test]
    fn symlinked_hashtree_dir_is_rejected() {
        let repo = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(
            outside.path().join("ci.toml"),
            "[ci]\norg_npub = \"HOSTSECRET-abc\"\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), repo.path().join(".hashtree")).unwrap();

        let message = load_error(repo.path());
        assert!(
            message.ends_with(
                "ci.toml: the .hashtree directory is a symbolic link; make it a plain directory \
                 inside the repository"
            ),
            "{message}"
        );
        assert!(!message.contains("HOSTSECRET"));
    }

    #[test]
    fn fifo_and_directory_are_rejected() {
        let repo = repo_with_hashtree();
        let path = repo.path().join(".hashtree/ci.toml");
        let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: `c_path` is a valid NUL-terminated string for the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let expected =
            "is not a regular file (a directory, FIFO, socket or device); make it a regular file";
        assert!(load_error(repo.path()).ends_with(expected));

        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(load_error(repo.path()).ends_with(expected));
    }

    #[test]
    fn oversized_file_is_rejected() {
        let repo = repo_with_hashtree();
        let path = repo.path().join(".hashtree/ci.toml");
        let mut text = "# padding\n".repeat(7000);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            load_error(repo.path()),
            format!(
                "{}: larger than the limit of 65536 bytes; keep only the [ci] settings in it",
                display_path(&path)
            )
        );

        text.truncate(65536);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            RepoCiConfig::load(repo.path()).unwrap(),
            RepoCiConfig::default()
        );
    }
}
