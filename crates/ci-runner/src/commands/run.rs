//! `htci run`: run the workflows of a repository on this machine.
//!
//! Resolves the commit with git, loads the workflows, plans the run with
//! [`ci_workflow::plan`] (workflow and job selection, triggers, matrix
//! legs), runs it through the [scheduler](crate::scheduler), stores signed
//! results and prints a summary. Exit codes: 0 when every job succeeded
//! or was skipped, 1 when a job failed or was cancelled, 2 for invalid
//! input or configuration, each with a one-line reason on stderr.
//!
//! Job workspaces live in a mode-0700 run directory under `$TMPDIR`. Each
//! job removes its workspace when it ends and keeps its logs until they
//! are stored at the end of the run; set `HTCI_KEEP_RUN_DIR=1` to keep
//! everything for debugging.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ci_core::config::RunnerConfig;
use ci_core::status::Status;
use ci_workflow::load::{self, Loaded};
use ci_workflow::model::{TriggerConfig, Workflow};
use ci_workflow::plan::{self, PlanError, Selection};
use ci_workflow::trigger::Event;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::executor::contexts::{self, RunInfo, WorkflowInfo};
use crate::git::{self, RepoInfo};
use crate::launcher::HostLauncher;
use crate::mask::Masker;
use crate::output::Console;
use crate::results;
use crate::sandbox_launcher::{self, SandboxOptions};
use crate::scheduler::{self, LegResult, RunSettings, SelectedWorkflow};

/// Arguments of `htci run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Repository to run (any directory inside a git checkout).
    #[arg(default_value = ".")]
    pub path: PathBuf,

    /// Event that triggers the run, such as `push`, `pull_request` or
    /// `workflow_dispatch`; only workflows whose `on:` matches run.
    #[arg(long, default_value = "push")]
    pub event: String,

    /// Run only this workflow, whatever its triggers: a path, a file name
    /// or file stem under `.github/workflows/`, or a workflow's `name:`.
    #[arg(long)]
    pub workflow: Option<PathBuf>,

    /// Run only this job id and the jobs it needs.
    #[arg(long)]
    pub job: Option<String>,

    /// A secret as NAME=VALUE; may be repeated. Other users of the machine
    /// can read command lines, so prefer --secret-file for real secrets.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,

    /// A file of NAME=VALUE lines with secrets (`#` starts a comment line).
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_files: Vec<PathBuf>,

    /// Print a machine-readable summary as JSON on stdout; logs go to
    /// stderr.
    #[arg(long)]
    pub json: bool,

    /// Run every step in the rootless sandbox (also set by
    /// `[runner.container] enabled = true` in runner.toml).
    #[arg(long)]
    pub sandbox: bool,

    /// Root filesystem of the sandbox: `host` or a directory holding an
    /// unpacked image; overrides runner.toml's `[runner.images]`.
    #[arg(long, value_name = "host|DIR")]
    pub image: Option<String>,

    /// Network of the sandbox: `none` (loopback only), `host` or `pasta`.
    #[arg(long, value_name = "none|host|pasta")]
    pub network: Option<String>,
}

/// Printed once per run without the sandbox, on stderr.
const HOST_MODE_WARNING: &str = "warning: without --sandbox, jobs run with your full user rights \
    (they can read your files and the runner key); use htci run --sandbox for untrusted code";

/// A problem with the input or configuration: exit code 2.
#[derive(Debug)]
struct InputError(String);

impl<E: std::fmt::Display> From<E> for InputError {
    fn from(error: E) -> Self {
        InputError(error.to_string())
    }
}

/// Number of SIGINT/SIGTERM signals received; read by a watcher thread.
static SIGNALLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.fetch_add(1, Ordering::SeqCst);
}

pub fn execute(args: &RunArgs) -> ExitCode {
    match run(args) {
        Ok(code) => code,
        Err(InputError(message)) => {
            let line = message.lines().next().unwrap_or_default().to_string();
            eprintln!("error: {line}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &RunArgs) -> Result<ExitCode, InputError> {
    let (config, created) = RunnerConfig::load_or_create_default(None)
        .map_err(|e| InputError(format!("invalid runner configuration: {e}")))?;
    let console = Console::new(args.json);
    if let Some(warning) = RunnerConfig::default_path()
        .ok()
        .and_then(|path| ci_core::config::runner::permission_warning(&path))
    {
        eprintln!("warning: {warning}");
    }
    if let Some(path) = created {
        console.line(&format!(
            "created runner identity {} at {}",
            config.npub(),
            path.display()
        ));
    }

    let secrets = collect_secrets(&args.secrets, &args.secret_files)?;
    let sandbox_options = SandboxOptions {
        image: args.image.clone(),
        network: args.network.clone(),
    };
    let sandbox = sandbox_launcher::for_run(&sandbox_options, args.sandbox, &config)?;
    let repo = git::inspect(&args.path)?;
    // Read before any job starts, so a bad file fails the run at once.
    ci_core::config::RepoCiConfig::load(&repo.root)?;
    let (workflows, warnings) = plan_workflows(&repo, args)?;
    if let Some(sandbox) = &sandbox {
        sandbox.check_images(job_labels(&workflows))?;
    }
    for warning in &warnings {
        console.line(warning);
    }
    if workflows.is_empty() {
        console.line(&format!(
            "no workflow of {} runs on `{}` for {}",
            repo.root.display(),
            args.event,
            if repo.git_ref.is_empty() {
                "a detached HEAD"
            } else {
                &repo.git_ref
            }
        ));
        if args.json {
            let summary = json!({
                "status": Status::Skipped.as_str(),
                "success": true,
                "commit": repo.sha,
                "ref": repo.git_ref,
                "dirty": repo.dirty,
                "result_path": null,
                "jobs": [],
            });
            println!("{summary}");
        }
        return Ok(ExitCode::SUCCESS);
    }

    if sandbox.is_none() {
        eprintln!("{HOST_MODE_WARNING}");
    }
    results::check_store().map_err(|e| InputError(e.to_string()))?;
    let masker = Masker::new();
    for value in secrets.values() {
        masker.add(value);
    }
    let cancel = install_signal_handlers()?;
    crate::launcher::sweep_stale_runs(&std::env::temp_dir());
    let run_dir = create_run_dir()?;
    let settings = RunSettings {
        run: Arc::new(run_info(&repo, &args.event, &config, sandbox.is_some())),
        launcher: match sandbox {
            Some(sandbox) => Arc::new(sandbox),
            None => Arc::new(HostLauncher),
        },
        masker,
        console,
        cancel,
        run_dir,
        max_concurrent_jobs: config.limits.max_concurrent_jobs.max(1),
        job_timeout_cap: Duration::from_secs(config.limits.job_timeout_secs.max(1)),
        secrets: secrets_context(&secrets),
    };

    let started_at = time::OffsetDateTime::now_utc();
    let _span = tracing::info_span!("run", commit = %repo.sha, event = %args.event).entered();
    let legs = scheduler::run_all(&settings, &workflows);
    let finished = Finished {
        config: &config,
        repo: &repo,
        workflows: &workflows,
        legs: &legs,
        started_at,
        finished_at: time::OffsetDateTime::now_utc(),
    };
    let code = report(args, &settings, &finished);
    if std::env::var_os("HTCI_KEEP_RUN_DIR").is_none() {
        let _ = std::fs::remove_dir_all(&settings.run_dir);
    }
    Ok(code)
}

/// Builds the `secrets` context: the given secrets plus an empty
/// `GITHUB_TOKEN`.
fn secrets_context(secrets: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut context: Map<String, Value> = secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    context
        .entry("GITHUB_TOKEN".to_string())
        .or_insert(Value::String(String::new()));
    context
}

/// Returns the literal `runs-on` labels of every selected job.
fn job_labels(workflows: &[SelectedWorkflow]) -> impl Iterator<Item = Vec<String>> + '_ {
    workflows.iter().flat_map(|selected| {
        selected
            .plan
            .jobs
            .iter()
            .map(|job| sandbox_launcher::literal_labels(job.job.runs_on.as_ref()))
    })
}

/// Collects the facts about the run that every job shares.
fn run_info(repo: &RepoInfo, event: &str, config: &RunnerConfig, sandboxed: bool) -> RunInfo {
    RunInfo {
        repo: repo.clone(),
        event_name: event.to_string(),
        run_id: run_id(),
        // NOTE: local runs are not numbered; every run is run 1, attempt 1.
        run_number: 1,
        run_attempt: 1,
        actor: std::env::var("USER").unwrap_or_else(|_| "htci".into()),
        runner_name: config.name.clone(),
        arch: contexts::host_arch().to_string(),
        debug: false,
        passthrough_env: if sandboxed {
            sandbox_launcher::passthrough_env()
        } else {
            RunInfo::passthrough_from_env()
        },
    }
}

/// A finished run, ready to report.
struct Finished<'a> {
    config: &'a RunnerConfig,
    repo: &'a RepoInfo,
    workflows: &'a [SelectedWorkflow],
    legs: &'a [LegResult],
    started_at: time::OffsetDateTime,
    finished_at: time::OffsetDateTime,
}

/// Prints the summary, stores the results, prints the JSON summary when
/// requested, and returns the exit code.
fn report(args: &RunArgs, settings: &RunSettings, finished: &Finished<'_>) -> ExitCode {
    let console = &settings.console;
    let masker = &settings.masker;
    let rows: Vec<(String, Status, Duration)> = finished
        .legs
        .iter()
        .map(|leg| {
            (
                leg.display_name.clone(),
                leg.outcome.status,
                leg.outcome.duration,
            )
        })
        .collect();
    console.summary(&rows);

    let stored = results::store(&results::StoreRequest {
        config: finished.config,
        repo: finished.repo,
        event: &args.event,
        workflows: finished.workflows,
        legs: finished.legs,
        masker,
        isolation: settings.launcher.isolation(),
        started_at: finished.started_at,
        finished_at: finished.finished_at,
    });
    let result_path = match &stored {
        Ok(path) => {
            console.line(&format!("result written to {}", path.display()));
            Some(path.clone())
        }
        Err(error) => {
            eprintln!(
                "error: failed to store the results: {}",
                masker.mask(&error.to_string())
            );
            None
        }
    };

    // A job with `continue-on-error` may fail without failing the run.
    let failed = finished.legs.iter().any(|leg| {
        leg.outcome.status.is_unsuccessful()
            && !(leg.continue_on_error && leg.outcome.status == Status::Failure)
    });
    let failed = failed || settings.cancel.load(Ordering::SeqCst);
    if args.json {
        print_json(finished, result_path.as_deref(), failed, masker);
    }
    if stored.is_err() {
        ExitCode::from(2)
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads `--secret NAME=VALUE` and `--secret-file` entries.
fn collect_secrets(
    pairs: &[String],
    files: &[PathBuf],
) -> Result<BTreeMap<String, String>, InputError> {
    let mut secrets = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            InputError(format!(
                "failed to read secret file {}: {e}",
                file.display()
            ))
        })?;
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (name, value) = parse_secret(trimmed).map_err(|reason| {
                InputError(format!("{}:{}: {reason}", file.display(), number + 1))
            })?;
            secrets.insert(name, value);
        }
    }
    for pair in pairs {
        let (name, value) =
            parse_secret(pair).map_err(|reason| InputError(format!("--secret: {reason}")))?;
        secrets.insert(name, value);
    }
    Ok(secrets)
}

fn parse_secret(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err("expected NAME=VALUE".to_string());
    };
    let name = name.trim();
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(format!(
            "invalid secret name `{name}`; use letters, digits and `_`, not starting with a digit"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Loads the workflows and plans the run: which workflows and jobs run
/// for the event, and their legs. Also returns the loader's warnings
/// about the planned workflows.
fn plan_workflows(
    repo: &RepoInfo,
    args: &RunArgs,
) -> Result<(Vec<SelectedWorkflow>, Vec<String>), InputError> {
    let (loaded, workflow) = load_workflows(repo, args)?;
    let selection = Selection {
        workflow,
        job: args.job.clone(),
        ignore_triggers: args.workflow.is_some(),
    };
    let event = build_event(repo, &args.event);
    let (workflows, warnings): (Vec<Workflow>, Vec<Vec<String>>) = loaded
        .into_iter()
        .map(|loaded| {
            let warnings = loaded.warnings.iter().map(ToString::to_string).collect();
            (loaded.workflow, warnings)
        })
        .unzip();
    let planned =
        plan::plan(&workflows, &event, &selection).map_err(|e| InputError(plan_error(&e)))?;

    let mut by_path: BTreeMap<String, (Workflow, Vec<String>)> = workflows
        .into_iter()
        .zip(warnings)
        .map(|(workflow, warnings)| (workflow.path.clone(), (workflow, warnings)))
        .collect();
    let mut selected = Vec::new();
    let mut planned_warnings = Vec::new();
    for workflow_plan in planned.workflows {
        let Some((workflow, warnings)) = by_path.remove(&workflow_plan.path) else {
            continue;
        };
        let info = WorkflowInfo {
            name: workflow_plan.name.clone(),
            path: workflow_plan.path.clone(),
            inputs: dispatch_inputs(&workflow, &args.event),
        };
        planned_warnings.extend(warnings);
        selected.push(SelectedWorkflow {
            workflow: Arc::new(workflow),
            info,
            plan: workflow_plan,
        });
    }
    scheduler::keys::check_unique(&selected)?;
    Ok((selected, planned_warnings))
}

/// Formats a planning error with its causes on one line.
fn plan_error(error: &PlanError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// Loads the workflows that the planner chooses from, and returns them
/// with the `--workflow` value to pass to it: the one file that
/// `--workflow` names, or every workflow under `.github/workflows/`.
fn load_workflows(
    repo: &RepoInfo,
    args: &RunArgs,
) -> Result<(Vec<Loaded>, Option<String>), InputError> {
    let discovered = load::discover_workflows(&repo.root);
    let Some(requested) = &args.workflow else {
        let loaded = discovered
            .iter()
            .map(|path| load_file(&repo.root, path))
            .collect::<Result<_, _>>()?;
        return Ok((loaded, None));
    };

    if let Some(path) = find_workflow_file(&repo.root, requested) {
        let loaded = load_file(&repo.root, &path)?;
        let selection = loaded.workflow.path.clone();
        return Ok((vec![loaded], Some(selection)));
    }
    // No such file, so `requested` can only be a workflow's `name:`, which the
    // planner matches. Files that fail to load are left out here, and
    // reported only when selected by their file name.
    let loaded = discovered
        .iter()
        .filter_map(|path| parse_file(&repo.root, path).ok()?.1.ok())
        .collect();
    Ok((loaded, Some(requested.to_string_lossy().into_owned())))
}

/// Reads and loads one workflow file, naming it by its path relative to
/// the repository root. The diagnostics of an invalid workflow are printed
/// on stderr, sorted, in the format of `htci check`.
fn load_file(root: &Path, path: &Path) -> Result<Loaded, InputError> {
    let (relative, loaded) = parse_file(root, path)?;
    loaded.map_err(|error| {
        let mut diagnostics = error.diagnostics();
        load::sort_diagnostics(&mut diagnostics);
        for diagnostic in &diagnostics {
            eprintln!("{diagnostic}");
        }
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        InputError(format!(
            "workflow file {relative} is invalid: {errors} error(s), listed above"
        ))
    })
}

/// Reads one workflow file and returns its path relative to the
/// repository root with the result of loading it.
fn parse_file(
    root: &Path,
    path: &Path,
) -> Result<(String, Result<Loaded, load::LoadError>), InputError> {
    let relative = path
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned();
    let text = read_bounded(path).map_err(|e| {
        InputError(format!(
            "failed to read workflow file {}: {e}",
            path.display()
        ))
    })?;
    let loaded = load::load_workflow_str(&relative, &text);
    Ok((relative, loaded))
}

/// Reads a workflow file of the repository, which may be hostile, as a
/// regular file of at most the loader's size limit, without reading more
/// than one byte past the limit.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;

    let max_bytes = ci_workflow::yaml::Limits::default().max_bytes;
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(max_bytes as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max_bytes {
        return Err(std::io::Error::other(format!(
            "larger than the limit of {max_bytes} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Finds the file that `--workflow` names: a path relative to the working
/// directory or the repository root, or a file name or file stem under
/// `.github/workflows/`.
fn find_workflow_file(root: &Path, requested: &Path) -> Option<PathBuf> {
    let workflows_dir = root.join(".github").join("workflows");
    let stem = requested.to_string_lossy();
    let candidates = [
        requested.to_path_buf(),
        root.join(requested),
        workflows_dir.join(requested),
        workflows_dir.join(format!("{stem}.yml")),
        workflows_dir.join(format!("{stem}.yaml")),
    ];
    let path = candidates.into_iter().find(|path| path.is_file())?;
    Some(path.canonicalize().unwrap_or(path))
}

fn build_event(repo: &RepoInfo, name: &str) -> Event {
    let mut event = match name {
        "push" => Event::push(&repo.git_ref),
        "pull_request" | "pull_request_target" => {
            let mut event = Event::pull_request(&repo.git_ref, "opened");
            event.name = name.to_string();
            event
        }
        other => Event {
            name: other.to_string(),
            git_ref: Some(repo.git_ref.clone()),
            ..Event::default()
        },
    };
    if let Ok(paths) = changed_in_commit(repo) {
        event = event.with_changed_paths(&paths);
    }
    event
}

/// Paths the commit changed against its parent (all files of a root commit).
fn changed_in_commit(repo: &RepoInfo) -> Result<Vec<String>, git::GitError> {
    let output = if repo.before.chars().all(|c| c == '0') {
        git::git(
            &repo.root,
            &["ls-tree", "-r", "--name-only", "-z", &repo.sha],
        )?
    } else {
        git::git(
            &repo.root,
            &["diff", "--name-only", "-z", &repo.before, &repo.sha],
        )?
    };
    Ok(output
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

/// `inputs` of a `workflow_dispatch` run: each input's default.
fn dispatch_inputs(workflow: &Workflow, event: &str) -> Value {
    let mut inputs = Map::new();
    if event != "workflow_dispatch" {
        return Value::Object(inputs);
    }
    if let Some(trigger) = workflow.on.trigger("workflow_dispatch")
        && let TriggerConfig::WorkflowDispatch(declared) = &trigger.config
    {
        for (name, input) in declared.iter() {
            let value = input
                .default
                .as_ref()
                .map(|d| d.value.clone())
                .unwrap_or(Value::String(String::new()));
            inputs.insert(name.to_string(), value);
        }
    }
    Value::Object(inputs)
}

/// Installs SIGINT and SIGTERM handlers and returns the flag they set.
fn install_signal_handlers() -> Result<Arc<AtomicBool>, InputError> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe, and no other handler is replaced here.
        unsafe { sigaction(signal, &action) }
            .map_err(|e| InputError(format!("failed to install the {signal} handler: {e}")))?;
    }

    let flag = Arc::new(AtomicBool::new(false));
    let watcher = flag.clone();
    // The first signal cancels the run, whose cleanup steps still run; a
    // second one kills every step at once.
    std::thread::spawn(move || {
        loop {
            let received = SIGNALLED.load(Ordering::SeqCst);
            if received >= 1 && !watcher.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "cancelling: steps with `if: always()` or `if: cancelled()` still run (up to 5 minutes); press Ctrl-C again to kill them"
                );
            }
            if received >= 2 {
                crate::executor::capture::request_stop_now();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    Ok(flag)
}

/// Creates a fresh directory for the job workspaces of this run.
fn create_run_dir() -> Result<PathBuf, InputError> {
    use std::os::unix::fs::DirBuilderExt;

    let base = std::env::temp_dir();
    let dir = base.join(format!("htci-run-{}-{}", std::process::id(), run_id()));
    // Mode 0700: step scripts in it contain interpolated secrets.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            InputError(format!(
                "failed to create run directory {}: {e}",
                dir.display()
            ))
        })?;
    Ok(dir)
}

/// Returns a run id from the clock, unique enough to tell local runs apart.
fn run_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn print_json(finished: &Finished<'_>, result_path: Option<&Path>, failed: bool, masker: &Masker) {
    let (repo, legs, workflows) = (finished.repo, finished.legs, finished.workflows);
    // A failed job with `continue-on-error` does not fail the run (GitHub's
    // `jobs.<job_id>.continue-on-error`), though its own status stays.
    let overall = Status::worst(legs.iter().map(|leg| match leg.outcome.status {
        Status::Failure if leg.continue_on_error => Status::Success,
        status => status,
    }))
    .unwrap_or(Status::Skipped);
    let jobs: Vec<Value> = legs
        .iter()
        .map(|leg| {
            json!({
                "key": leg.key,
                "job_id": leg.job_id,
                "name": leg.display_name,
                "workflow": workflows[leg.workflow_index].info.path,
                "status": leg.outcome.status.as_str(),
                "duration_secs": leg.outcome.duration.as_secs_f64(),
                "matrix": leg.matrix,
                "outputs": leg.outcome.outputs,
                "steps": leg.outcome.steps.iter().map(|step| json!({
                    "name": step.name,
                    "id": step.id,
                    "status": step.status.as_str(),
                    "outcome": step.outcome.as_str(),
                    "exit_code": step.exit_code,
                    "duration_secs": step.duration.as_secs_f64(),
                    "outputs": step.outputs,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let summary = json!({
        "status": overall.as_str(),
        "success": !failed,
        "commit": repo.sha,
        "ref": repo.git_ref,
        "dirty": repo.dirty,
        "result_path": result_path.map(|p| p.to_string_lossy().into_owned()),
        "jobs": jobs,
    });
    println!("{}", masker.mask_json(&summary));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_pairs() {
        assert_eq!(parse_secret("A_1=x=y"), Ok(("A_1".into(), "x=y".into())));
        assert!(parse_secret("novalue").is_err());
        assert!(parse_secret("1A=x").is_err());
        assert!(parse_secret("A-B=x").is_err());
    }
}
