//! Step executor: runs the steps of one job with GitHub's semantics.

// TODO: drop once `htci run` calls every item.
#![allow(dead_code)]

pub mod capture;
pub mod file_commands;
pub mod shell;
