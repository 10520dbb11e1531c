//! `htci`: runs GitHub Actions workflows without Docker and without root,
//! signs the results with the runner's Nostr key and stores them.

mod commands;
mod executor;
mod git;
mod launcher;
mod mask;
mod output;
mod results;
mod scheduler;
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
    /// Run the workflows of a repository on this machine.
    Run(commands::run::RunArgs),
    /// Run one command in the sandbox (rootless namespaces, read-only root).
    Sandbox(commands::sandbox::SandboxArgs),
}

fn main() -> ExitCode {
    // First, while the process has one thread: may become the sandbox init.
    ci_sandbox::init::run_if_requested();
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => commands::check::execute(&args),
        Command::Expr(args) => commands::expr::execute(&args),
        Command::Run(args) => commands::run::execute(&args),
        Command::Sandbox(args) => commands::sandbox::execute(&args),
    }
}
