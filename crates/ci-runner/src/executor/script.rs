//! `run:` steps: the script is interpolated and written to RUNNER_TEMP,
//! run by its shell through the launcher, and the step's files
//! (`GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`)
//! are read back afterwards.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use ci_core::status::Status;

use super::capture::{self, Ending};
use super::eval::{self, Contexts};
use super::file_commands::StepFiles;
use super::job::{JobEnv, JobState};
use super::shell::Shell;
use super::step::{BodyResult, Scope, StepLog};
use crate::launcher::LaunchSpec;

/// The parts of a `run:` step.
pub struct RunScript<'a> {
    pub run: &'a str,
    pub shell: Option<&'a str>,
    pub working_directory: Option<&'a str>,
    pub time_limit: Duration,
    /// Whether a cancellation lets the step run on for the cleanup time:
    /// it runs after the job stopped, or its `if:` is true after one.
    pub cleanup: bool,
}

/// Runs a `run:` script and reads back the step's files.
pub fn run_script(
    env: &JobEnv,
    state: &mut JobState,
    scope: &Scope,
    script: &RunScript<'_>,
    contexts: &Contexts,
    own_env: &[(String, String)],
    log: &mut StepLog<'_>,
) -> BodyResult {
    let prepared = match prepare_script(env, state, scope, script, contexts, own_env) {
        Ok(prepared) => prepared,
        Err(message) => {
            log.error(&message);
            return BodyResult::failure(None);
        }
    };

    let files = match StepFiles::create(&env.dirs.files, state.next_file_index()) {
        Ok(files) => files,
        Err(error) => {
            log.error(&format!(
                "failed to create the step files in {}: {error}",
                env.dirs.files.display()
            ));
            return BodyResult::failure(None);
        }
    };

    let process_env = state.process_env(env, scope, own_env, &files);
    let spec = LaunchSpec {
        program: prepared.program,
        args: prepared.args,
        env: process_env,
        working_dir: prepared.working_dir,
    };

    let cancel = if script.cleanup {
        env.cancel.for_cleanup()
    } else {
        env.cancel.clone()
    };
    let captured = capture::run_captured(
        env.launcher.as_ref(),
        &spec,
        &env.masker,
        script.time_limit,
        &cancel,
        &mut |line| log.captured(line),
    );

    let captured = match captured {
        Ok(captured) => captured,
        Err(error) => {
            log.error(&error.to_string());
            return BodyResult::failure(None);
        }
    };

    let mut result = match captured.ending {
        Ending::Exited(exit) if exit.code() == 0 => BodyResult::success(),
        Ending::Exited(exit) => {
            log.error(&format!("process completed with exit code {}", exit.code()));
            BodyResult::failure(Some(exit.code()))
        }
        Ending::TimedOut => {
            let minutes = script.time_limit.as_secs_f64() / 60.0;
            log.error(&format!(
                "the step timed out after {minutes:.2} minutes and was killed"
            ));
            if state.deadline <= Instant::now() {
                state.timed_out = true;
            }
            BodyResult::failure(None)
        }
        Ending::Cancelled if script.cleanup => {
            let minutes = capture::CLEANUP_TIME.as_secs() / 60;
            log.error(&format!(
                "the step was killed: Ctrl-C was pressed again, or it ran past the {minutes} minutes that steps get after a cancellation"
            ));
            cancelled()
        }
        Ending::Cancelled => {
            log.error("the run was cancelled");
            cancelled()
        }
    };

    result.outputs.extend(captured.command_outputs);
    state.finished_processes.push(captured.process);
    if let Err(message) = state.read_step_files(env, &files, &mut result.outputs) {
        log.error(&message);
        result.outcome = Status::Failure;
    }
    result
}

fn cancelled() -> BodyResult {
    BodyResult {
        outcome: Status::Cancelled,
        exit_code: None,
        outputs: BTreeMap::new(),
    }
}

struct PreparedScript {
    program: String,
    args: Vec<String>,
    working_dir: std::path::PathBuf,
}

/// Interpolates the script, writes it to RUNNER_TEMP and builds the
/// command line of its shell.
fn prepare_script(
    env: &JobEnv,
    state: &mut JobState,
    scope: &Scope,
    script: &RunScript<'_>,
    contexts: &Contexts,
    own_env: &[(String, String)],
) -> Result<PreparedScript, String> {
    let body = eval::template(script.run, contexts).map_err(|e| e.to_string())?;

    let shell_template = match script.shell {
        Some(shell) => Some(eval::template(shell, contexts).map_err(|e| e.to_string())?),
        None => env.defaults.shell.clone(),
    };
    let path_var = state.path_value(env, scope, own_env);
    let shell = Shell::resolve(shell_template.as_deref(), |program| {
        env.launcher.has_program(program, &path_var)
    })
    .map_err(|e| e.to_string())?;

    let directory = match script.working_directory {
        Some(dir) => Some(eval::template(dir, contexts).map_err(|e| e.to_string())?),
        None => env.defaults.working_directory.clone(),
    };
    let working_dir = match directory {
        Some(dir) => resolve_working_directory(&env.dirs.workspace, &dir)?,
        None => env.dirs.workspace.clone(),
    };

    let script_path = env.dirs.temp.join(format!(
        "step-{}.{}",
        state.next_file_index(),
        shell.extension
    ));
    crate::untrusted_fs::write_new_file(&script_path, body.as_bytes()).map_err(|e| {
        format!(
            "failed to write the step script {}: {e}",
            script_path.display()
        )
    })?;
    let visible_script = env.launcher.visible_path(&script_path);
    let (program, args) = shell.command_line(&visible_script.to_string_lossy());

    Ok(PreparedScript {
        program,
        args,
        working_dir: env.launcher.visible_path(&working_dir),
    })
}

/// Resolves `working-directory` against the workspace and checks that it
/// exists.
fn resolve_working_directory(workspace: &Path, dir: &str) -> Result<std::path::PathBuf, String> {
    let path = workspace.join(dir);
    if !path.is_dir() {
        return Err(format!(
            "working-directory `{dir}` does not exist in the workspace; create it in an earlier step or fix the path"
        ));
    }
    Ok(path)
}
