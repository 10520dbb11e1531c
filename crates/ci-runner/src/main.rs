//! `htci`: runs GitHub Actions workflows without Docker and without root,
//! signs the results with the runner's Nostr key and stores them.

mod commands;
mod executor;
mod git;
mod launcher;
mod mask;
mod output;
mod results;
mod sandbox_launcher;
mod scheduler;
mod untrusted_fs;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "htci", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the workflows of a repository (or one workflow file).
    Check(commands::check::CheckArgs),
    /// Evaluate one `${{ }}` expression and print the result as JSON.
    Expr(commands::expr::ExprArgs),
    /// Create this runner's identity: a Nostr key pair in runner.toml.
    Init(commands::init::InitArgs),
    /// List the stored results of a repository and verify their signatures.
    Results(commands::results::ResultsArgs),
    /// Run the workflows of a repository on this machine.
    Run(commands::run::RunArgs),
    /// Run one command in the sandbox (rootless namespaces, read-only root).
    Sandbox(commands::sandbox::SandboxArgs),
    /// Check the signature of a stored result file.
    Verify(commands::verify::VerifyArgs),
    /// Print this runner's npub, name and tags.
    Whoami(commands::whoami::WhoamiArgs),
}

fn main() -> ExitCode {
    // First, while the process has one thread: may become the sandbox init.
    ci_sandbox::init::run_if_requested();
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => commands::check::execute(&args),
        Command::Expr(args) => commands::expr::execute(&args),
        Command::Init(args) => commands::init::execute(&args),
        Command::Results(args) => commands::results::execute(&args),
        Command::Run(args) => commands::run::execute(&args),
        Command::Sandbox(args) => commands::sandbox::execute(&args),
        Command::Verify(args) => commands::verify::execute(&args),
        Command::Whoami(args) => commands::whoami::execute(&args),
    }
}
