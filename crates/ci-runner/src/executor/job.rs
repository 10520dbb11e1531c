//! One job (or matrix leg): its workspace, its environment and its steps
//! in order, then its `outputs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ci_core::status::Status;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::capture::{CLEANUP_TIME, Cancel};
use super::contexts::{self, RunInfo, WorkflowInfo};
use super::eval::{self, Contexts};
use super::file_commands::{self, StepFiles};
use super::log_file::{self, FinishedLog, LogWriter};
use super::step::{self, Scope, StepDef, StepRecord};
use crate::launcher::{Launcher, Process, terminate};
use crate::mask::Masker;
use crate::output::Console;
use crate::workspace::{self, JobDirs};

/// `defaults.run` after merging the workflow's and the job's.
#[derive(Debug, Clone, Default)]
pub struct RunDefaults {
    pub shell: Option<String>,
    pub working_directory: Option<String>,
}

/// Everything a job needs that does not change while it runs.
pub struct JobEnv {
    pub run: Arc<RunInfo>,
    pub workflow: WorkflowInfo,
    pub launcher: Arc<dyn Launcher>,
    pub masker: Masker,
    pub console: Console,
    pub cancel: Cancel,
    pub dirs: JobDirs,
    /// Name shown in log prefixes and results (`build (linux)`).
    pub display_name: String,
    pub defaults: RunDefaults,
}

/// The executor's input for one job, detached from the workflow model.
#[derive(Debug, Clone)]
pub struct JobPlan {
    pub job_id: String,
    /// Workflow `env:` then job `env:`, as templates, in that order.
    pub workflow_env: Vec<(String, String)>,
    pub job_env: Vec<(String, String)>,
    pub steps: Vec<StepDef>,
    /// Job `outputs:` templates.
    pub outputs: Vec<(String, String)>,
    pub timeout: Duration,
    /// Contexts fixed before the job starts: `matrix`, `strategy`,
    /// `needs`, `inputs`, `secrets`, `vars`.
    pub fixed_contexts: Vec<(String, Value)>,
    /// `runs-on` labels, evaluated; they choose the sandbox image.
    pub runs_on: Vec<String>,
    pub container: Value,
    pub services: Value,
}

/// Mutable state of a running job.
pub struct JobState {
    pub contexts: Contexts,
    /// Workflow and job env, evaluated.
    pub base_env: Vec<(String, String)>,
    /// Values written to `GITHUB_ENV`, later ones replacing earlier ones.
    pub github_env: Vec<(String, String)>,
    /// Directories written to `GITHUB_PATH`, newest first.
    pub path_additions: Vec<String>,
    pub standard_env: Vec<(String, String)>,
    pub failed: bool,
    pub timed_out: bool,
    /// Whether the job saw the run's cancellation (Ctrl-C or fail-fast)
    /// before its last step ended; the job then ends `cancelled`.
    pub cancelled: bool,
    pub deadline: Instant,
    /// End of the cleanup time after a cancellation or a job timeout, for
    /// the steps that still run.
    pub cleanup_deadline: Option<Instant>,
    /// Processes of finished steps, whose groups may still hold
    /// background processes.
    pub finished_processes: Vec<Box<dyn Process>>,
    /// The job log: each step's log under a header line, in a file in the
    /// job's `logs` folder.
    pub log: LogWriter,
    /// The job's `logs` folder; `Err` when it could not be created.
    pub logs_dir: Result<PathBuf, String>,
    pub summary: String,
    /// `GITHUB_ACTION` of the step that runs now.
    pub current_action: String,
    /// How often each generated `GITHUB_ACTION` name was used.
    pub action_names: BTreeMap<String, usize>,
    file_index: usize,
    log_index: usize,
}

/// The end state of a job: status, steps, outputs and log.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    pub status: Status,
    pub steps: Vec<StepRecord>,
    pub outputs: BTreeMap<String, String>,
    pub log: FinishedLog,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    pub duration: Duration,
    /// Text the steps wrote to `GITHUB_STEP_SUMMARY`, masked; empty when
    /// nothing was written.
    pub summary: String,
    /// The `isolation` object of the job's result; `None` for a job that
    /// never started.
    pub isolation: Option<Value>,
}

impl JobState {
    pub fn next_file_index(&mut self) -> usize {
        self.file_index += 1;
        self.file_index
    }

    /// Builds the env map of a step: workflow and job env, then `GITHUB_ENV`,
    /// then the env inherited by a composite action, then the step's own.
    pub fn merged_env(&self, scope: &Scope, own: &[(String, String)]) -> Vec<(String, String)> {
        let mut merged: Vec<(String, String)> = Vec::new();
        let sources = [
            &self.base_env[..],
            &self.github_env[..],
            &scope.inherited_env[..],
            own,
        ];
        for (key, value) in sources.into_iter().flatten() {
            match merged.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value.clone(),
                None => merged.push((key.clone(), value.clone())),
            }
        }
        merged
    }

    /// Contexts for a step: the job's, with `env`, `steps` and (inside a
    /// composite action) `inputs` of this point.
    pub fn step_contexts(&self, scope: &Scope, own: &[(String, String)]) -> Contexts {
        let mut contexts = self.contexts.clone();
        let env: Map<String, Value> = self
            .merged_env(scope, own)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        contexts.set("env", Value::Object(env));
        contexts.set("steps", Value::Object(scope.steps.clone()));
        if let Some(Value::Object(github)) = contexts.map.get_mut("github") {
            github.insert("action".into(), Value::String(self.current_action.clone()));
            let action_path = scope.action_path.clone().unwrap_or_default();
            github.insert("action_path".into(), Value::String(action_path));
        }
        if let Some(Value::Object(job)) = contexts.map.get_mut("job") {
            job.insert(
                "status".into(),
                Value::String(self.job_status(scope).into()),
            );
        }
        if let Some(inputs) = &scope.inputs {
            contexts.set("inputs", inputs.clone());
        }
        contexts
    }

    /// Returns `job.status` at this point: `cancelled` once the job saw
    /// the cancellation, else `failure` once a step failed.
    pub fn job_status(&self, scope: &Scope) -> &'static str {
        if self.cancelled {
            "cancelled"
        } else if self.failed || scope.failed {
            "failure"
        } else {
            "success"
        }
    }

    /// Returns whether the job is stopping: cancelled or timed out. Only
    /// steps whose `if:` is true then still run, within the cleanup time.
    pub fn stopping(&self) -> bool {
        self.cancelled || self.timed_out
    }

    /// Notes a cancellation or timeout seen before a step and starts the
    /// cleanup time.
    pub fn observe_stop(&mut self, cancel: &Cancel) {
        if let Some(since) = cancel.cancelled_since() {
            self.cancelled = true;
            let end = since + CLEANUP_TIME;
            self.cleanup_deadline = Some(self.cleanup_deadline.map_or(end, |d| d.min(end)));
        }
        if self.timed_out && self.cleanup_deadline.is_none() {
            self.cleanup_deadline = Some(Instant::now() + CLEANUP_TIME);
        }
    }

    /// Builds the `PATH` of a step: `GITHUB_PATH` additions before the
    /// base `PATH`.
    pub fn path_value(&self, env: &JobEnv, scope: &Scope, own: &[(String, String)]) -> String {
        let base = self
            .merged_env(scope, own)
            .into_iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v)
            .or_else(|| env.run.passthrough("PATH").map(str::to_string))
            .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
        let mut parts = self.path_additions.clone();
        parts.push(base);
        parts.join(":")
    }

    /// Builds the complete environment of a step's process.
    pub fn process_env(
        &self,
        env: &JobEnv,
        scope: &Scope,
        own: &[(String, String)],
        files: &StepFiles,
    ) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = env.run.passthrough_env.clone();
        vars.extend(self.standard_env.iter().cloned());
        let visible = |path: &std::path::Path| {
            env.launcher
                .visible_path(path)
                .to_string_lossy()
                .into_owned()
        };
        vars.push(("GITHUB_OUTPUT".into(), visible(&files.output)));
        vars.push(("GITHUB_ENV".into(), visible(&files.env)));
        vars.push(("GITHUB_PATH".into(), visible(&files.path)));
        vars.push(("GITHUB_STEP_SUMMARY".into(), visible(&files.summary)));
        vars.push(("GITHUB_ACTION".into(), self.current_action.clone()));
        if let Some(action_path) = &scope.action_path {
            vars.push(("GITHUB_ACTION_PATH".into(), action_path.clone()));
        }
        vars.extend(self.merged_env(scope, own));
        // After the env maps, so `GITHUB_PATH` additions also precede a
        // `PATH` set in `env:` or `GITHUB_ENV`.
        vars.push(("PATH".into(), self.path_value(env, scope, own)));

        // Later entries win; keep the last value of each name.
        let mut deduplicated: Vec<(String, String)> = Vec::new();
        for (key, value) in vars {
            match deduplicated.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => deduplicated.push((key, value)),
            }
        }
        deduplicated
    }

    /// Reads the files of a finished step into outputs, env and path.
    pub fn read_step_files(
        &mut self,
        env: &JobEnv,
        files: &StepFiles,
        outputs: &mut BTreeMap<String, String>,
    ) -> Result<(), String> {
        // A sandboxed step can replace these files with links or FIFOs.
        let read = |path: &std::path::Path| {
            crate::untrusted_fs::read_step_file(path, crate::untrusted_fs::MAX_STEP_FILE_BYTES)
                .map_err(|e| format!("failed to read a step file: {e}"))
        };

        let pairs = file_commands::parse_key_values("GITHUB_OUTPUT", &read(&files.output)?)
            .map_err(|e| e.to_string())?;
        outputs.extend(pairs);

        let pairs = file_commands::parse_key_values("GITHUB_ENV", &read(&files.env)?)
            .map_err(|e| e.to_string())?;
        for (key, value) in pairs {
            match self.github_env.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => self.github_env.push((key, value)),
            }
        }

        for dir in file_commands::parse_path_file(&read(&files.path)?) {
            self.path_additions.insert(0, dir);
        }

        let summary = read(&files.summary)?;
        if !summary.is_empty() {
            self.summary.push_str(&env.masker.mask(&summary));
        }
        Ok(())
    }

    /// Creates the log file of the next step (`logs/step-N.log`).
    pub fn new_log(&mut self, masker: &Masker) -> LogWriter {
        self.log_index += 1;
        let name = format!("step-{}.log", self.log_index);
        new_log_file(&self.logs_dir, &name, masker)
    }

    /// Appends a step's log to the job log under a header line.
    pub fn append_log(&mut self, name: &str, log: &FinishedLog) {
        self.log.line(&format!("##[step] {name}"));
        self.log.append(log);
    }
}

/// Creates a log file named `name` in the job's `logs` folder. When the
/// folder is missing the writer keeps the error, which the step or job
/// reports as it ends.
fn new_log_file(logs_dir: &Result<PathBuf, String>, name: &str, masker: &Masker) -> LogWriter {
    let path = match logs_dir {
        Ok(dir) => dir.join(name),
        // A relative path in a folder that does not exist: creating the
        // file fails, and the job already failed with the folder's error.
        Err(_) => PathBuf::from(log_file::LOGS_DIR).join("missing").join(name),
    };
    LogWriter::create(path, masker)
}

/// Removes a finished job's directories but its `logs` folder, which the
/// results are stored from; the run directory goes when the run ends.
pub fn remove_job_dirs(dirs: &JobDirs) {
    let Ok(entries) = std::fs::read_dir(&dirs.root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name() == log_file::LOGS_DIR {
            continue;
        }
        let path = entry.path();
        let _ = match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
    }
}

/// Runs a job to its end. Problems with the workflow end as a failed
/// step or job with the reason in its log.
pub fn run_job(env: &JobEnv, plan: &JobPlan) -> JobOutcome {
    let started_at = OffsetDateTime::now_utc();
    let started = Instant::now();
    let logs_dir = log_file::create_logs_dir(&env.dirs.root).map_err(|e| e.to_string());
    let mut state = JobState {
        contexts: Contexts::default(),
        base_env: Vec::new(),
        github_env: Vec::new(),
        path_additions: Vec::new(),
        standard_env: Vec::new(),
        failed: false,
        timed_out: false,
        cancelled: false,
        deadline: started + plan.timeout,
        cleanup_deadline: None,
        finished_processes: Vec::new(),
        log: new_log_file(&logs_dir, "job.log", &env.masker),
        logs_dir,
        summary: String::new(),
        current_action: String::new(),
        action_names: BTreeMap::new(),
        file_index: 0,
        log_index: 0,
    };

    let mut records = Vec::new();
    let setup = match state.logs_dir.clone() {
        Ok(_) => prepare(env, plan, &mut state),
        Err(message) => Err(message),
    };
    match setup {
        Ok(()) => {
            let mut scope = Scope::default();
            for def in &plan.steps {
                let record = step::run_step(env, &mut state, &mut scope, def);
                records.push(record);
            }
            state.failed |= scope.failed;
            // A cleanup step that saw the cancellation while it ran, and
            // ran to its end, leaves the job cancelled too.
            state.cancelled |= env.cancel.seen();
            state
                .contexts
                .set("steps", Value::Object(scope.steps.clone()));
        }
        Err(message) => {
            let line = env.masker.mask(&format!("##[error]{message}"));
            env.console.notice(&env.display_name, &line);
            state.log.line(&line);
            state.failed = true;
        }
    }

    kill_leftovers(&mut state.finished_processes);
    let outputs = evaluate_outputs(env, plan, &mut state);

    // A job whose log could not be written fails, with the reason on the
    // terminal.
    let (log, log_error) = state.log.finish();
    if let Some(error) = log_error {
        let line = env.masker.mask(&format!("##[error]{error}"));
        env.console.notice(&env.display_name, &line);
        tracing::error!(%error, "job log incomplete");
        state.failed = true;
    }

    // A job that finished all its steps before a cancellation (Ctrl-C, or
    // fail-fast from another leg) keeps its own status.
    let cancelled = state.cancelled
        || records.iter().any(|r| r.status == Status::Cancelled)
        || (records.is_empty() && env.cancel.is_cancelled());
    let status = if cancelled {
        Status::Cancelled
    } else if state.failed || records.iter().any(|r| r.status == Status::Failure) {
        Status::Failure
    } else {
        Status::Success
    };

    let duration = started.elapsed();
    env.console.job_done(&env.display_name, status, duration);
    JobOutcome {
        status,
        steps: records,
        outputs,
        log,
        started_at,
        finished_at: OffsetDateTime::now_utc(),
        duration,
        isolation: Some(env.launcher.isolation()),
        summary: state.summary,
    }
}

/// Checks out the workspace, writes the event file and evaluates the
/// job's contexts and env.
fn prepare(env: &JobEnv, plan: &JobPlan, state: &mut JobState) -> Result<(), String> {
    workspace::checkout(&env.run.repo, &env.dirs.workspace, true).map_err(|e| e.to_string())?;

    let event = contexts::event_payload(&env.run, &env.workflow);
    let event_path = env.dirs.temp.join("event.json");
    let event_text = serde_json::to_string_pretty(&event).unwrap_or_else(|_| "{}".into());
    std::fs::write(&event_path, event_text).map_err(|e| {
        format!(
            "failed to write the event file {}: {e}",
            event_path.display()
        )
    })?;

    let visible = |path: &std::path::Path| {
        env.launcher
            .visible_path(path)
            .to_string_lossy()
            .into_owned()
    };
    let mut github = contexts::github_context(
        &env.run,
        &env.workflow,
        &plan.job_id,
        &visible(&env.dirs.workspace),
        &event,
    );
    github["event_path"] = Value::String(visible(&event_path));
    let runner = contexts::runner_context(&env.run, &env.dirs, env.launcher.as_ref());
    state.standard_env = contexts::standard_env(&env.run, &github, &runner, &visible(&event_path));

    state.contexts.workspace = Some(env.dirs.workspace.clone());
    state.contexts.set("github", github);
    state.contexts.set("runner", runner);
    state.contexts.set(
        "job",
        json!({ "status": "success", "container": plan.container, "services": plan.services }),
    );
    for (name, value) in &plan.fixed_contexts {
        state.contexts.set(name, value.clone());
    }

    let mut base_env: Vec<(String, String)> = Vec::new();
    for (key, template) in plan.workflow_env.iter().chain(plan.job_env.iter()) {
        let mut contexts = state.contexts.clone();
        let env_map: Map<String, Value> = base_env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        contexts.set("env", Value::Object(env_map));
        let value = eval::template(template, &contexts).map_err(|e| format!("env `{key}`: {e}"))?;
        match base_env.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => base_env.push((key.clone(), value)),
        }
    }
    state.base_env = base_env;
    Ok(())
}

/// Evaluates the job's `outputs:` after its steps.
fn evaluate_outputs(
    env: &JobEnv,
    plan: &JobPlan,
    state: &mut JobState,
) -> BTreeMap<String, String> {
    let mut contexts = state.contexts.clone();
    let job_status = state.job_status(&step::Scope::default());
    if let Some(Value::Object(job)) = contexts.map.get_mut("job") {
        job.insert("status".into(), Value::String(job_status.into()));
    }
    let mut outputs = BTreeMap::new();
    for (name, template) in &plan.outputs {
        match eval::template(template, &contexts) {
            Ok(value) => {
                outputs.insert(name.clone(), env.masker.mask(&value));
            }
            Err(error) => {
                let line = env
                    .masker
                    .mask(&format!("##[warning]output `{name}`: {error}"));
                env.console.notice(&env.display_name, &line);
                state.log.line(&line);
            }
        }
    }
    outputs
}

/// Kills the process groups that steps left behind (background jobs),
/// as GitHub's runner does when a job ends.
fn kill_leftovers(processes: &mut [Box<dyn Process>]) {
    for process in processes.iter_mut() {
        if process.group_alive() {
            terminate(process.as_mut());
        }
    }
}

/// Returns the folder name of a job's directories: `<index>-<job key>`.
pub fn job_dir_key(index: usize, key: &str) -> String {
    format!("{index:03}-{}", workspace::sanitize(key))
}
