//! `htci whoami`: prints the runner's npub, name and tags. The secret key
//! is never printed.

use std::process::ExitCode;

use ci_core::config::runner::permission_warning;
use ci_core::config::{ConfigError, RunnerConfig};
use ci_core::dirs::display_path;
use clap::Args;

/// Exit status when there is no identity or it cannot be read.
const EXIT_ERROR: u8 = 2;

#[derive(Args)]
#[command(
    after_help = "Exit status: 0 when the identity was read, 2 when there is none or \
                  runner.toml is invalid."
)]
pub struct WhoamiArgs {
    /// Print a JSON object with npub, name, tags and config instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn execute(args: &WhoamiArgs) -> ExitCode {
    let (config, path) = match load_identity() {
        Ok(loaded) => loaded,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_ERROR);
        }
    };

    if args.json {
        let document = serde_json::json!({
            "npub": config.npub(),
            "name": config.name,
            "tags": config.tags,
            "config": path,
        });
        println!("{document}");
    } else {
        println!("npub: {}", config.npub());
        println!("name: {}", config.name);
        println!("tags: {}", config.tags.join(", "));
        println!("config: {path}");
    }
    ExitCode::SUCCESS
}

/// Reads the identity from its default location; the error text is one
/// line naming the file.
fn load_identity() -> Result<(RunnerConfig, String), String> {
    let path = RunnerConfig::default_path().map_err(|e| e.to_string())?;
    let display = display_path(&path);
    match RunnerConfig::load(&path) {
        Ok(config) => {
            if let Some(warning) = permission_warning(&path) {
                eprintln!("warning: {warning}");
            }
            Ok((config, display))
        }
        Err(ConfigError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(format!(
                "{display}: no runner identity; run htci init to create one"
            ))
        }
        Err(error) => Err(error.to_string()),
    }
}
