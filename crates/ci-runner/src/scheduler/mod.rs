//! The scheduler: which job runs when.
//!
//! The scheduler runs a [`Plan`](ci_workflow::plan::Plan): the jobs of
//! each triggered workflow, in `needs` order, with their matrix legs. A
//! job becomes ready when every job it needs has finished; its `if:` is
//! evaluated then (default `success()`, which is false when a needed job
//! did not succeed). A matrix that the planner deferred because it
//! contains `${{ }}` is evaluated and expanded then, so a matrix built
//! from `needs.<job>.outputs` can use those outputs. Each matrix leg is a
//! separate job. Legs and jobs run on threads, at most
//! `max_concurrent_jobs` at once and at most `max-parallel` legs of one
//! matrix. With `fail-fast` (the default) the first failed leg cancels
//! the other legs of its matrix. Ctrl-C cancels everything: running jobs
//! are killed and pending ones are recorded as `cancelled`.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use ci_core::status::Status;
use ci_workflow::expr::StatusInputs;
use ci_workflow::model::Workflow;
use ci_workflow::plan::{JobPlan, WorkflowPlan};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::executor::capture::Cancel;
use crate::executor::contexts::{RunInfo, WorkflowInfo};
use crate::executor::eval::{self, StatusState};
use crate::executor::job::{self, JobEnv, JobOutcome};
use crate::executor::log_file::FinishedLog;
use crate::launcher::Launcher;
use crate::mask::Masker;
use crate::output::Console;
use crate::workspace::JobDirs;

pub mod keys;
mod legs;

use legs::{LegTask, UnitPlan, base_contexts, plan_unit};

/// GitHub's default job time limit.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(360 * 60);

/// One workflow to run and its plan: the selected jobs (dependencies
/// included) in dependency order, with their legs.
pub struct SelectedWorkflow {
    pub workflow: Arc<Workflow>,
    pub info: WorkflowInfo,
    pub plan: WorkflowPlan,
}

/// Settings and shared services of the run.
pub struct RunSettings {
    pub run: Arc<RunInfo>,
    pub launcher: Arc<dyn Launcher>,
    pub masker: Masker,
    pub console: Console,
    /// Set by Ctrl-C.
    pub cancel: Arc<AtomicBool>,
    pub run_dir: PathBuf,
    pub max_concurrent_jobs: usize,
    /// Upper bound of any job's time limit (runner.toml `job_timeout_secs`).
    pub job_timeout_cap: Duration,
    pub secrets: Map<String, Value>,
}

/// The result of one job or matrix leg.
#[derive(Debug, Clone)]
pub struct LegResult {
    pub workflow_index: usize,
    pub job_id: String,
    /// The result store's key, `<workflow file stem>.<job id>[.<leg>]`
    /// ([`keys::store_key`]), unique within a run that passed
    /// [`keys::check_unique`].
    pub key: String,
    pub display_name: String,
    pub matrix: Option<Value>,
    pub outcome: JobOutcome,
    /// Whether the job had `continue-on-error` true, so its failure does
    /// not fail the run.
    pub continue_on_error: bool,
}

/// Scheduler state of one job definition.
struct Unit {
    workflow_index: usize,
    /// Position of the job in its workflow's plan.
    job_index: usize,
    job_id: String,
    needs: Vec<String>,
    state: UnitState,
    legs: Vec<Option<LegResult>>,
    queued: VecDeque<LegTask>,
    running: usize,
    max_parallel: usize,
    fail_fast: bool,
    fail_fast_flag: Arc<AtomicBool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum UnitState {
    Waiting,
    Running,
    Done,
}

/// Runs every selected job and returns their results in a stable order
/// (workflow order, then dependency order, then leg order).
pub fn run_all(settings: &RunSettings, workflows: &[SelectedWorkflow]) -> Vec<LegResult> {
    let mut units: Vec<Unit> = Vec::new();
    for (workflow_index, selected) in workflows.iter().enumerate() {
        for (job_index, job) in selected.plan.jobs.iter().enumerate() {
            units.push(Unit {
                workflow_index,
                job_index,
                job_id: job.id.clone(),
                needs: job.needs.clone(),
                state: UnitState::Waiting,
                legs: Vec::new(),
                queued: VecDeque::new(),
                running: 0,
                max_parallel: usize::MAX,
                fail_fast: true,
                fail_fast_flag: Arc::new(AtomicBool::new(false)),
            });
        }
    }

    let (sender, receiver) = mpsc::channel::<(usize, usize, LegResult)>();
    let mut running_total = 0usize;
    let mut job_counter = 0usize;

    loop {
        let cancelled = settings.cancel.load(Ordering::SeqCst);
        start_ready_units(settings, workflows, &mut units, cancelled);

        // Start queued legs, in unit order, within the limits.
        for (unit_index, unit) in units.iter_mut().enumerate() {
            while running_total < settings.max_concurrent_jobs.max(1) {
                if unit.running >= unit.max_parallel {
                    break;
                }
                let Some(task) = unit.queued.pop_front() else {
                    break;
                };
                if cancelled || unit.fail_fast_flag.load(Ordering::SeqCst) {
                    let leg = cancelled_leg(unit, &task);
                    unit.legs[task.leg_index] = Some(leg);
                    continue;
                }
                unit.running += 1;
                running_total += 1;
                job_counter += 1;
                spawn_leg(
                    settings,
                    workflows,
                    unit,
                    task,
                    unit_index,
                    job_counter,
                    sender.clone(),
                );
            }
        }
        finish_units(&mut units);

        if units.iter().all(|u| u.state == UnitState::Done) {
            break;
        }
        if running_total == 0 {
            // Nothing runs and nothing could start: only possible when every
            // remaining unit waits for one that is done, handled next round.
            if units
                .iter()
                .any(|u| u.state == UnitState::Waiting && needs_done(&units, u))
            {
                continue;
            }
            tracing::warn!("scheduler found no job to start; stopping");
            break;
        }

        let Ok((unit_index, leg_index, leg)) = receiver.recv_timeout(Duration::from_millis(100))
        else {
            continue;
        };
        running_total -= 1;
        let unit = &mut units[unit_index];
        unit.running -= 1;
        if leg.outcome.status == Status::Failure && !leg.continue_on_error && unit.fail_fast {
            unit.fail_fast_flag.store(true, Ordering::SeqCst);
        }
        unit.legs[leg_index] = Some(leg);
    }

    units
        .into_iter()
        .flat_map(|unit| unit.legs.into_iter().flatten())
        .collect()
}

fn needs_done(units: &[Unit], unit: &Unit) -> bool {
    unit.needs.iter().all(|need| {
        units
            .iter()
            .find(|u| u.workflow_index == unit.workflow_index && &u.job_id == need)
            .is_none_or(|u| u.state == UnitState::Done)
    })
}

/// Marks running units whose legs all finished as done.
fn finish_units(units: &mut [Unit]) {
    for unit in units.iter_mut() {
        if unit.state == UnitState::Running
            && unit.running == 0
            && unit.queued.is_empty()
            && unit.legs.iter().all(Option::is_some)
        {
            unit.state = UnitState::Done;
        }
    }
}

/// Builds the `needs` context of a unit and the inputs of its status
/// functions, which cover every job it depends on, directly or not.
fn needs_context(units: &[Unit], unit: &Unit, cancelled: bool) -> (Value, StatusState) {
    let find = |id: &str| {
        units
            .iter()
            .find(|u| u.workflow_index == unit.workflow_index && u.job_id == id)
    };

    let mut context = Map::new();
    for need in &unit.needs {
        if let Some(needed) = find(need) {
            let (result, outputs) = unit_result(needed);
            context.insert(
                need.clone(),
                json!({ "result": result.as_str(), "outputs": outputs }),
            );
        }
    }

    let mut seen: Vec<&str> = Vec::new();
    let mut pending: Vec<&str> = unit.needs.iter().map(String::as_str).collect();
    let mut results = Vec::new();
    while let Some(id) = pending.pop() {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if let Some(needed) = find(id) {
            results.push(eval::job_status(unit_result(needed).0));
            pending.extend(needed.needs.iter().map(String::as_str));
        }
    }
    (
        Value::Object(context),
        StatusInputs::job(results, cancelled),
    )
}

/// Computes the result of a whole job for `needs.<id>.result`: a failed leg (without
/// continue-on-error) makes it `failure`, then `cancelled`, then `success`
/// if any leg succeeded, else `skipped`. Outputs of the legs are merged
/// in leg order.
fn unit_result(unit: &Unit) -> (Status, Map<String, Value>) {
    let legs: Vec<&LegResult> = unit.legs.iter().flatten().collect();
    let mut outputs = Map::new();
    for leg in &legs {
        for (key, value) in &leg.outcome.outputs {
            outputs.insert(key.clone(), Value::String(value.clone()));
        }
    }
    let effective = |leg: &&LegResult| {
        if leg.outcome.status == Status::Failure && leg.continue_on_error {
            Status::Success
        } else {
            leg.outcome.status
        }
    };
    let statuses: Vec<Status> = legs.iter().map(effective).collect();
    let result = if statuses.contains(&Status::Failure) {
        Status::Failure
    } else if statuses.contains(&Status::Cancelled) {
        Status::Cancelled
    } else if statuses.contains(&Status::Success) {
        Status::Success
    } else {
        Status::Skipped
    };
    (result, outputs)
}

/// Evaluates `if:` and expands the matrix of every waiting unit whose
/// needs are done.
fn start_ready_units(
    settings: &RunSettings,
    workflows: &[SelectedWorkflow],
    units: &mut [Unit],
    cancelled: bool,
) {
    for index in 0..units.len() {
        if units[index].state != UnitState::Waiting || !needs_done(units, &units[index]) {
            continue;
        }
        let (needs, status) = needs_context(units, &units[index], cancelled);
        let selected = &workflows[units[index].workflow_index];
        let job = &selected.plan.jobs[units[index].job_index];

        let contexts = base_contexts(settings, selected, needs.clone());
        let outcome = plan_unit(settings, selected, job, &contexts, status);
        let unit = &mut units[index];
        match outcome {
            UnitPlan::Legs {
                tasks,
                max_parallel,
                fail_fast,
            } => {
                unit.legs = tasks.iter().map(|_| None).collect();
                unit.queued = tasks.into();
                unit.max_parallel = max_parallel;
                unit.fail_fast = fail_fast;
                unit.state = UnitState::Running;
            }
            UnitPlan::Finished(status, message) => {
                let leg = finished_leg(settings, selected, unit, job, status, message);
                unit.legs = vec![Some(leg)];
                unit.state = UnitState::Done;
            }
        }
    }
}

fn spawn_leg(
    settings: &RunSettings,
    workflows: &[SelectedWorkflow],
    unit: &Unit,
    task: LegTask,
    unit_index: usize,
    job_number: usize,
    sender: mpsc::Sender<(usize, usize, LegResult)>,
) {
    let selected = &workflows[unit.workflow_index];
    let cancel = Cancel::new(vec![settings.cancel.clone(), unit.fail_fast_flag.clone()]);
    let console = settings.console.clone();
    let masker = settings.masker.clone();
    let launcher = settings.launcher.clone();
    let run = settings.run.clone();
    let workflow_info = selected.info.clone();
    let run_dir = settings.run_dir.clone();
    let workflow_index = unit.workflow_index;
    let job_id = unit.job_id.clone();

    std::thread::spawn(move || {
        let _span = tracing::info_span!("job", key = %task.key).entered();
        tracing::info!(name = %task.display_name, "job started");
        let dir_key = job::job_dir_key(job_number, &task.key);
        let outcome = match JobDirs::create(&run_dir, &dir_key) {
            Ok(dirs) => {
                let env = JobEnv {
                    run,
                    workflow: workflow_info,
                    launcher: launcher.for_job(&dirs, &task.plan),
                    masker,
                    console,
                    cancel,
                    dirs,
                    display_name: task.display_name.clone(),
                    defaults: task.defaults.clone(),
                };
                let outcome = job::run_job(&env, &task.plan);
                // Removed here rather than at the end of the run, so the
                // removal of one job overlaps with the work of others.
                if std::env::var_os("HTCI_KEEP_RUN_DIR").is_none() {
                    job::remove_job_dirs(&env.dirs);
                }
                outcome
            }
            Err(error) => {
                console.notice(&task.display_name, &format!("##[error]{error}"));
                empty_outcome(Status::Failure, format!("##[error]{error}\n"))
            }
        };
        tracing::info!(status = %outcome.status, "job finished");
        let leg = LegResult {
            workflow_index,
            job_id,
            key: task.key,
            display_name: task.display_name,
            matrix: task.matrix,
            outcome,
            continue_on_error: task.continue_on_error,
        };
        let _ = sender.send((unit_index, task.leg_index, leg));
    });
}

fn empty_outcome(status: Status, log: String) -> JobOutcome {
    let now = OffsetDateTime::now_utc();
    JobOutcome {
        status,
        steps: Vec::new(),
        outputs: BTreeMap::new(),
        log: FinishedLog::from_text(log),
        started_at: now,
        finished_at: now,
        duration: Duration::ZERO,
        isolation: None,
        summary: String::new(),
    }
}

/// Records a leg cancelled before it started (Ctrl-C or fail-fast).
fn cancelled_leg(unit: &Unit, task: &LegTask) -> LegResult {
    LegResult {
        workflow_index: unit.workflow_index,
        job_id: unit.job_id.clone(),
        key: task.key.clone(),
        display_name: task.display_name.clone(),
        matrix: task.matrix.clone(),
        outcome: empty_outcome(
            Status::Cancelled,
            "##[error]cancelled before it started\n".into(),
        ),
        continue_on_error: task.continue_on_error,
    }
}

/// Records a job that did not run (skipped by `if:`, cancelled, or
/// failed to plan).
fn finished_leg(
    settings: &RunSettings,
    selected: &SelectedWorkflow,
    unit: &Unit,
    job: &JobPlan,
    status: Status,
    message: String,
) -> LegResult {
    // A name with expressions is not evaluated for a job that did not run.
    let name = if job.name.contains("${{") {
        job.id.clone()
    } else {
        job.name.clone()
    };
    let message = settings.masker.mask(&message);
    let line = match status {
        Status::Failure => format!("##[error]{message}"),
        _ => message.clone(),
    };
    settings.console.notice(&name, &line);
    settings.console.job_done(&name, status, Duration::ZERO);
    LegResult {
        workflow_index: unit.workflow_index,
        job_id: unit.job_id.clone(),
        key: keys::store_key(&selected.info.path, job, None),
        display_name: name,
        matrix: None,
        outcome: empty_outcome(status, format!("{line}\n")),
        continue_on_error: false,
    }
}
