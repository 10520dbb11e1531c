//! Step executor: runs the steps of one job with GitHub's semantics.
//!
//! [`job::run_job`] prepares the job's workspace and contexts and runs
//! its steps through [`step::run_step`]; `uses:` steps go to
//! [`action`]; processes run through [`capture`] and the launcher seam.

pub mod action;
pub mod capture;
pub mod contexts;
pub mod eval;
pub mod file_commands;
pub mod job;
pub mod log_file;
pub mod script;
pub mod shell;
pub mod step;
