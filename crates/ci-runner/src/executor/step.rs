//! One step: its definition, its `if:`, its env and its result. The body
//! of a `run:` step runs in [`super::script`], that of a `uses:` step in
//! [`super::action`].
//!
//! [`StepDef`] is the runner's view of a step, filled from a workflow
//! step or from a step of a composite action, so both run through the
//! same code. A step runs in three parts: evaluate the condition and the
//! step's own values, run the process (or the built-in action), then read
//! back the files the step wrote (`GITHUB_OUTPUT`, `GITHUB_ENV`,
//! `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ci_core::status::Status;
use ci_workflow::model;
use serde_json::{Map, Value, json};

use super::eval::{self, Contexts};
use super::job::{JobEnv, JobState};
use super::log_file::{FinishedLog, LogWriter};

/// A boolean or number that may be written as an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Flex<T> {
    Literal(T),
    Expression(String),
}

/// The action of a step: a script or a `uses:` reference.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Run {
        run: String,
        shell: Option<String>,
        working_directory: Option<String>,
    },
    Uses {
        uses: String,
        with: Vec<(String, String)>,
    },
}

/// A step of a job or of a composite action. Text fields are templates.
#[derive(Debug, Clone, PartialEq)]
pub struct StepDef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub condition: Option<String>,
    pub kind: StepKind,
    pub env: Vec<(String, String)>,
    pub continue_on_error: Option<Flex<bool>>,
    pub timeout_minutes: Option<Flex<f64>>,
}

impl StepDef {
    /// Converts a workflow step.
    pub fn from_model(step: &model::Step) -> Self {
        let kind = match &step.action {
            model::StepAction::Run {
                run,
                shell,
                working_directory,
            } => StepKind::Run {
                run: run.value.clone(),
                shell: shell.as_ref().map(|t| t.value.clone()),
                working_directory: working_directory.as_ref().map(|t| t.value.clone()),
            },
            model::StepAction::Uses { uses, with } => StepKind::Uses {
                uses: uses.value.clone(),
                with: with
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.value.clone()))
                    .collect(),
            },
        };
        Self {
            id: step.id.as_ref().map(|id| id.value.clone()),
            name: step.name.as_ref().map(|n| n.value.clone()),
            condition: step.condition.as_ref().map(|c| c.raw.clone()),
            kind,
            env: step
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.value.clone()))
                .collect(),
            continue_on_error: step.continue_on_error.as_ref().map(|s| flex(&s.value)),
            timeout_minutes: step.timeout_minutes.as_ref().map(|s| flex(&s.value)),
        }
    }

    /// GitHub's name for a step without `name:`.
    pub fn default_name(&self) -> String {
        match &self.kind {
            StepKind::Run { run, .. } => {
                let first = run.lines().map(str::trim).find(|l| !l.is_empty());
                format!("Run {}", first.unwrap_or_default())
            }
            StepKind::Uses { uses, .. } => format!("Run {uses}"),
        }
    }
}

/// GitHub's `GITHUB_ACTION` of a step: its `id`, else `__run` (then
/// `__run_2`, ...) for a `run:` step and `__owner_repo` for an action.
fn action_name(def: &StepDef, state: &mut JobState) -> String {
    if let Some(id) = &def.id {
        return id.clone();
    }
    let base = match &def.kind {
        StepKind::Run { .. } => "__run".to_string(),
        StepKind::Uses { uses, .. } => {
            let name = uses.split('@').next().unwrap_or_default();
            let cleaned: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            format!("__{}", cleaned.trim_start_matches('_'))
        }
    };
    let count = state.action_names.entry(base.clone()).or_insert(0);
    *count += 1;
    if *count == 1 {
        base
    } else {
        format!("{base}_{count}")
    }
}

/// Converts the model's literal-or-expression values.
pub fn flex<T: Clone>(value: &model::OrExpression<T>) -> Flex<T> {
    match value {
        model::OrExpression::Literal(literal) => Flex::Literal(literal.clone()),
        model::OrExpression::Expression(text) => Flex::Expression(text.clone()),
    }
}

/// Evaluates a boolean that may be an expression.
pub fn flex_bool(value: &Option<Flex<bool>>, contexts: &Contexts) -> Result<bool, eval::EvalError> {
    match value {
        None => Ok(false),
        Some(Flex::Literal(value)) => Ok(*value),
        Some(Flex::Expression(text)) => Ok(truthy(&eval::value(text, contexts)?)),
    }
}

/// Evaluates a number that may be an expression.
pub fn flex_number(
    value: &Option<Flex<f64>>,
    contexts: &Contexts,
) -> Result<Option<f64>, eval::EvalError> {
    match value {
        None => Ok(None),
        Some(Flex::Literal(value)) => Ok(Some(*value)),
        Some(Flex::Expression(text)) => {
            let value = eval::value(text, contexts)?;
            let number = match &value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            number.map(Some).ok_or_else(|| eval::EvalError {
                text: text.clone(),
                message: format!("expected a number, got {value}"),
            })
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The outcome of one step, for `steps.<id>` and for results.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub name: String,
    pub id: Option<String>,
    /// Conclusion: after `continue-on-error`.
    pub status: Status,
    /// Outcome: before `continue-on-error`.
    pub outcome: Status,
    pub exit_code: Option<i32>,
    pub duration: Duration,
    /// The step's masked log, in a file in the job's `logs` folder.
    pub log: FinishedLog,
    pub outputs: BTreeMap<String, String>,
}

/// The `steps` context and status of a sequence of steps: a job, or the
/// steps of one composite action.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub steps: Map<String, Value>,
    pub failed: bool,
    /// `inputs` of a composite action.
    pub inputs: Option<Value>,
    /// Env of the `uses:` step that runs a composite action.
    pub inherited_env: Vec<(String, String)>,
    /// Name shown in log prefixes for steps of a composite action.
    pub log_name: Option<String>,
    /// Directory of the running composite action, as the step's process
    /// opens it (`github.action_path`, `GITHUB_ACTION_PATH`).
    pub action_path: Option<String>,
}

/// A step's output while it runs: lines for the terminal and the step's
/// log file, which is never held in memory.
pub struct StepLog<'a> {
    pub env: &'a JobEnv,
    pub name: String,
    pub file: LogWriter,
}

impl StepLog<'_> {
    /// Writes one line (masked here) to the terminal and the step log.
    pub fn line(&mut self, text: &str) {
        let masked = self.env.masker.mask(text);
        self.captured(&masked);
    }

    /// Writes one line of the step's process, already masked by
    /// [`super::capture::run_captured`], to the terminal and the step log.
    pub fn captured(&mut self, masked: &str) {
        self.env
            .console
            .log(&self.env.display_name, &self.name, masked);
        self.file.line(masked);
    }

    /// Appends the log of an inner step of a composite action.
    pub fn append(&mut self, log: &FinishedLog) {
        self.file.append(log);
    }

    pub fn error(&mut self, message: &str) {
        self.line(&format!("##[error]{message}"));
    }

    pub fn warning(&mut self, message: &str) {
        self.line(&format!("##[warning]{message}"));
    }
}

/// The result of a step's body, before `continue-on-error` applies.
pub struct BodyResult {
    pub outcome: Status,
    pub exit_code: Option<i32>,
    pub outputs: BTreeMap<String, String>,
}

impl BodyResult {
    pub fn failure(exit_code: Option<i32>) -> Self {
        Self {
            outcome: Status::Failure,
            exit_code,
            outputs: BTreeMap::new(),
        }
    }

    pub fn success() -> Self {
        Self {
            outcome: Status::Success,
            exit_code: Some(0),
            outputs: BTreeMap::new(),
        }
    }
}

/// Runs one step in `scope` and records it in `scope.steps`.
pub fn run_step(
    env: &JobEnv,
    state: &mut JobState,
    scope: &mut Scope,
    def: &StepDef,
) -> StepRecord {
    let started = Instant::now();
    state.current_action = action_name(def, state);
    let _span = tracing::debug_span!("step", action = %state.current_action).entered();
    state.observe_stop(&env.cancel);
    let mut contexts = state.step_contexts(scope, &[]);
    let failed = scope.failed || state.failed;
    let status_state = eval::after_steps(failed, state.stopping());

    let name = match &def.name {
        Some(template) => eval::template(template, &contexts).unwrap_or_else(|_| template.clone()),
        None => def.default_name(),
    };
    let name = env.masker.mask(&name);
    let mut log = StepLog {
        env,
        name: scope.log_name.clone().unwrap_or_else(|| name.clone()),
        file: state.new_log(&env.masker),
    };

    // After a cancellation or a job timeout, the default `success()` is
    // false, so only steps such as `if: always()` or `if: cancelled()` run.
    // A second Ctrl-C stops the job without them.
    // NOTE: after a job timeout `cancelled()` is true here, because GitHub's
    // runner cancels a timed-out job; this was not compared with GitHub.
    let condition = def.condition.as_deref().unwrap_or("success()");
    let should_run = if env.cancel.stop_now() {
        Ok(false)
    } else {
        eval::condition(condition, &contexts, status_state)
    };

    let (body, continue_on_error) = match should_run {
        Ok(false) => {
            let status = if state.cancelled || env.cancel.stop_now() {
                Status::Cancelled
            } else {
                Status::Skipped
            };
            return finish(
                env,
                state,
                scope,
                def,
                name,
                log,
                started,
                status,
                status,
                None,
                BTreeMap::new(),
            );
        }
        Err(error) => {
            log.error(&error.to_string());
            (BodyResult::failure(None), false)
        }
        Ok(true) => {
            let own_env = evaluate_env(&def.env, &mut contexts, &mut log);
            match own_env {
                Some(own_env) => {
                    contexts = state.step_contexts(scope, &own_env);
                    let continue_on_error = flex_bool(&def.continue_on_error, &contexts)
                        .unwrap_or_else(|error| {
                            log.error(&error.to_string());
                            false
                        });
                    (
                        run_body(env, state, scope, def, &contexts, &own_env, &mut log),
                        continue_on_error,
                    )
                }
                None => (BodyResult::failure(None), false),
            }
        }
    };

    let status = if body.outcome == Status::Failure && continue_on_error {
        Status::Success
    } else {
        body.outcome
    };
    finish(
        env,
        state,
        scope,
        def,
        name,
        log,
        started,
        status,
        body.outcome,
        body.exit_code,
        body.outputs,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    env: &JobEnv,
    state: &mut JobState,
    scope: &mut Scope,
    def: &StepDef,
    name: String,
    log: StepLog<'_>,
    started: Instant,
    status: Status,
    outcome: Status,
    exit_code: Option<i32>,
    outputs: BTreeMap<String, String>,
) -> StepRecord {
    let (log, log_error) = log.file.finish();
    let (status, outcome) = match log_error {
        None => (status, outcome),
        Some(error) => {
            let line = env.masker.mask(&format!("##[error]{error}"));
            env.console.notice(&env.display_name, &line);
            tracing::error!(%error, "step log incomplete");
            (Status::Failure, Status::Failure)
        }
    };
    let outputs: BTreeMap<String, String> = outputs
        .into_iter()
        .map(|(k, v)| (k, env.masker.mask(&v)))
        .collect();
    if let Some(id) = &def.id {
        scope.steps.insert(
            id.clone(),
            json!({
                "outputs": outputs,
                "outcome": outcome.as_str(),
                "conclusion": status.as_str(),
            }),
        );
    }
    if status == Status::Failure {
        scope.failed = true;
    }

    let duration = started.elapsed();
    if scope.log_name.is_none() {
        env.console
            .step_done(&env.display_name, &name, status, duration);
    }
    state.append_log(&name, &log);
    StepRecord {
        name,
        id: def.id.clone(),
        status,
        outcome,
        exit_code,
        duration,
        log,
        outputs,
    }
}

/// Evaluates a step's `env:` in order, each value seeing the ones before.
fn evaluate_env(
    pairs: &[(String, String)],
    contexts: &mut Contexts,
    log: &mut StepLog<'_>,
) -> Option<Vec<(String, String)>> {
    let mut evaluated = Vec::new();
    for (key, template) in pairs {
        match eval::template(template, contexts) {
            Ok(value) => {
                if let Some(Value::Object(env)) = contexts.map.get_mut("env") {
                    env.insert(key.clone(), Value::String(value.clone()));
                }
                evaluated.push((key.clone(), value));
            }
            Err(error) => {
                log.error(&format!("env `{key}`: {error}"));
                return None;
            }
        }
    }
    Some(evaluated)
}

fn run_body(
    env: &JobEnv,
    state: &mut JobState,
    scope: &mut Scope,
    def: &StepDef,
    contexts: &Contexts,
    own_env: &[(String, String)],
    log: &mut StepLog<'_>,
) -> BodyResult {
    match &def.kind {
        StepKind::Run {
            run,
            shell,
            working_directory,
        } => {
            let time_limit = match step_time_limit(def, contexts, state) {
                Ok(limit) => limit,
                Err(error) => {
                    log.error(&error.to_string());
                    return BodyResult::failure(None);
                }
            };
            let failed = scope.failed || state.failed;
            let script = super::script::RunScript {
                run,
                shell: shell.as_deref(),
                working_directory: working_directory.as_deref(),
                time_limit,
                cleanup: state.stopping() || runs_after_cancel(def, contexts, failed),
            };
            super::script::run_script(env, state, scope, &script, contexts, own_env, log)
        }
        StepKind::Uses { uses, with } => {
            super::action::run_uses(env, state, scope, uses, with, contexts, own_env, log)
        }
    }
}

/// Returns whether the step's `if:` is still true once the run is
/// cancelled, so a cancellation lets it run on as GitHub does.
fn runs_after_cancel(def: &StepDef, contexts: &Contexts, failed: bool) -> bool {
    let condition = def.condition.as_deref().unwrap_or("success()");
    eval::condition(condition, contexts, eval::after_steps(failed, true)).unwrap_or(false)
}

/// Computes the step's time limit: its `timeout-minutes` (or none),
/// capped by the time left to the job, or after a job timeout by the
/// cleanup time left.
fn step_time_limit(
    def: &StepDef,
    contexts: &Contexts,
    state: &JobState,
) -> Result<Duration, eval::EvalError> {
    let now = Instant::now();
    let mut job_left = state.deadline.saturating_duration_since(now);
    if state.timed_out {
        job_left = Duration::MAX;
    }
    if let Some(deadline) = state.cleanup_deadline {
        job_left = job_left.min(deadline.saturating_duration_since(now));
    }
    let step = flex_number(&def.timeout_minutes, contexts)?;
    Ok(match step {
        Some(minutes) if minutes.is_finite() && minutes >= 0.0 => {
            Duration::from_secs_f64(minutes * 60.0).min(job_left)
        }
        _ => job_left,
    })
}
