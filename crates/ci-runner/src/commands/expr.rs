use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct ExprArgs {}

pub fn execute(_args: &ExprArgs) -> ExitCode {
    ExitCode::FAILURE
}
