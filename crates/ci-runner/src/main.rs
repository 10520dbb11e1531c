//! `htci`: runs GitHub Actions workflows without Docker and without root,
//! signs the results with the runner's Nostr key and stores them.

mod commands;
mod executor;
mod git;
mod launcher;
mod mask;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => commands::check::execute(&args),
        Command::Expr(args) => commands::expr::execute(&args),
    }
}
