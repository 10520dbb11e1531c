//! `htci init`: creates the runner's identity, a Nostr key pair stored
//! with the runner's name, tags and defaults in
//! `$XDG_CONFIG_HOME/hashtree-ci/runner.toml` (mode 0600).

use std::process::ExitCode;

use ci_core::config::RunnerConfig;
use ci_core::dirs::display_path;
use ci_core::identity::{default_runner_name, default_tags};
use clap::Args;

/// Exit status for an existing identity, an invalid option or a file
/// that cannot be written.
const EXIT_ERROR: u8 = 2;

#[derive(Args)]
#[command(
    after_help = "Prints the new npub and the file; the secret key (nsec) is only written to the \
                  file. Exit status: 0 when the identity was created, 2 when one already exists \
                  (without --force) or the file cannot be written."
)]
pub struct InitArgs {
    /// Runner name shown next to its npub [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Comma-separated labels matched against a job's `runs-on`
    /// [default: linux and the architecture, such as linux,x64].
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub tags: Option<Vec<String>>,

    /// Run every job in the sandbox (sets `[runner.container] enabled`).
    #[arg(long)]
    pub container: bool,

    /// Replace an existing identity. Its key is lost, so results it signed
    /// can no longer be linked to this runner's new npub.
    #[arg(long)]
    pub force: bool,
}

pub fn execute(args: &InitArgs) -> ExitCode {
    match create_identity(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn create_identity(args: &InitArgs) -> Result<(), String> {
    let name = match &args.name {
        Some(name) => validate_name(name)?,
        None => default_runner_name(),
    };
    let tags = match &args.tags {
        Some(tags) => validate_tags(tags)?,
        None => default_tags(),
    };

    let path = RunnerConfig::default_path().map_err(|e| e.to_string())?;
    let mut config = RunnerConfig::generate(&name, tags);
    config.container.enabled = args.container;
    config.write(&path, args.force).map_err(|e| e.to_string())?;

    println!("created runner {}", config.name);
    println!("npub: {}", config.npub());
    println!("tags: {}", config.tags.join(", "));
    println!(
        "file: {} (mode 0600, holds the secret key)",
        display_path(&path)
    );
    Ok(())
}

fn validate_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().any(char::is_control) {
        return Err(format!(
            "invalid runner name {name:?}: expected a non-empty name without control characters, \
             like --name ci-1"
        ));
    }
    Ok(trimmed.to_string())
}

fn validate_tags(tags: &[String]) -> Result<Vec<String>, String> {
    let mut valid = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "invalid tag {tag:?}: expected comma-separated labels without spaces, like \
                 --tags linux,x64"
            ));
        }
        if !valid.iter().any(|existing: &String| existing == tag) {
            valid.push(tag.to_string());
        }
    }
    if valid.is_empty() {
        return Err("--tags is empty: give at least one label, like --tags linux,x64".to_string());
    }
    Ok(valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags = vec![" linux".to_string(), "x64".to_string(), "linux".to_string()];
        assert_eq!(validate_tags(&tags).unwrap(), ["linux", "x64"]);
    }

    #[test]
    fn invalid_tags_are_rejected() {
        assert!(validate_tags(&["".to_string()]).is_err());
        assert!(validate_tags(&["two words".to_string()]).is_err());
        assert!(validate_tags(&[]).is_err());
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(validate_name(" ci-1 ").unwrap(), "ci-1");
        assert!(validate_name("  ").is_err());
        assert!(validate_name("a\nb").is_err());
    }
}
