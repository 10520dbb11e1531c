//! One module per `htci` subcommand: its arguments and its entry point.

pub mod check;
pub mod expr;
pub mod init;
pub mod results;
pub mod run;
pub mod sandbox;
pub mod verify;
pub mod whoami;
