use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct CheckArgs {}

pub fn execute(_args: &CheckArgs) -> ExitCode {
    ExitCode::FAILURE
}
