//! Planning one job once its needs have finished: its `if:`, the legs
//! of a matrix that the planner deferred, each leg's name, result key and
//! time limit, and the executor's plan of each leg. Matrix expansion and
//! leg identity come from [`ci_workflow::plan`].

use std::time::Duration;

use ci_core::status::Status;
use ci_workflow::model::{self, Job, Workflow};
use ci_workflow::plan::{self, JobPlan, Leg, Legs};
use serde_json::{Map, Value, json};

use super::{DEFAULT_JOB_TIMEOUT, RunSettings, SelectedWorkflow, keys};
use crate::executor::eval::{self, Contexts, StatusState};
use crate::executor::job::{JobPlan as ExecutorPlan, RunDefaults};
use crate::executor::step::{self, StepDef};

/// A leg ready to start.
pub(super) struct LegTask {
    pub(super) leg_index: usize,
    pub(super) key: String,
    pub(super) display_name: String,
    pub(super) matrix: Option<Value>,
    pub(super) plan: ExecutorPlan,
    pub(super) defaults: RunDefaults,
    pub(super) continue_on_error: bool,
}

/// Builds the contexts of a job before it starts.
pub(super) fn base_contexts(
    settings: &RunSettings,
    selected: &SelectedWorkflow,
    needs: Value,
) -> Contexts {
    let mut contexts = Contexts::default();
    let event = crate::executor::contexts::event_payload(&settings.run, &selected.info);
    let github =
        crate::executor::contexts::github_context(&settings.run, &selected.info, "", "", &event);
    contexts.set("github", github);
    contexts.set("needs", needs);
    contexts.set("inputs", selected.info.inputs.clone());
    // htci has no configuration variables: `vars` is always empty.
    contexts.set("vars", json!({}));
    contexts.set("secrets", Value::Object(settings.secrets.clone()));
    contexts.set("matrix", json!({}));
    contexts.set("strategy", json!({}));
    contexts.set("env", json!({}));
    contexts
}

pub(super) enum UnitPlan {
    Legs {
        tasks: Vec<LegTask>,
        max_parallel: usize,
        fail_fast: bool,
    },
    /// The job does not run: skipped (with the reason) or failed to plan.
    Finished(Status, String),
}

/// Plans a job whose needs have finished: evaluates its `if:`, expands a
/// deferred matrix, and builds one task per leg.
pub(super) fn plan_unit(
    settings: &RunSettings,
    selected: &SelectedWorkflow,
    job: &JobPlan,
    contexts: &Contexts,
    status: StatusState,
) -> UnitPlan {
    if status.cancelled {
        return UnitPlan::Finished(Status::Cancelled, "the run was cancelled".into());
    }
    let condition = job
        .job
        .condition
        .as_ref()
        .map(|c| c.raw.as_str())
        .unwrap_or("success()");
    match eval::condition(condition, contexts, status) {
        Ok(true) => {}
        Ok(false) => {
            return UnitPlan::Finished(Status::Skipped, format!("`if: {condition}` is false"));
        }
        Err(error) => return UnitPlan::Finished(Status::Failure, format!("job `if:`: {error}")),
    }
    if let model::JobKind::Call(call) = &job.job.kind {
        return UnitPlan::Finished(
            Status::Skipped,
            format!(
                "reusable workflow `{}` was not run: htci does not run workflow calls yet",
                call.uses.value
            ),
        );
    }

    let legs = match job_legs(job, contexts) {
        Ok(legs) => legs,
        Err(message) => return UnitPlan::Finished(Status::Failure, message),
    };
    let fail_fast =
        step::flex_bool(&Some(step::flex(&job.strategy.fail_fast)), contexts).unwrap_or(true);
    let max_parallel = job
        .strategy
        .max_parallel
        .as_ref()
        .and_then(|value| max_parallel(value, contexts));

    let mut tasks = Vec::new();
    for leg in &legs {
        let mut leg_contexts = contexts.clone();
        let matrix_value = leg.matrix.clone().map(Value::Object);
        leg_contexts.set("matrix", matrix_value.unwrap_or_else(|| json!({})));
        let strategy_value = json!({
            "fail-fast": fail_fast,
            "job-index": leg.index,
            "job-total": leg.total,
            "max-parallel": max_parallel.unwrap_or(leg.total),
        });
        leg_contexts.set("strategy", strategy_value);
        match leg_task(settings, selected, job, leg, &leg_contexts) {
            Ok(task) => tasks.push(task),
            Err(message) => return UnitPlan::Finished(Status::Failure, message),
        }
    }
    UnitPlan::Legs {
        tasks,
        max_parallel: max_parallel.unwrap_or(usize::MAX).max(1),
        fail_fast,
    }
}

/// Returns the legs of a job: those the planner expanded, or the legs of a
/// deferred matrix evaluated now that the jobs it needs have finished.
fn job_legs(job: &JobPlan, contexts: &Contexts) -> Result<Vec<Leg>, String> {
    let matrix = match &job.legs {
        Legs::Expanded(legs) => return Ok(legs.clone()),
        Legs::Deferred(matrix) => matrix,
    };
    let context = eval::expr_context(contexts, None);
    let value = plan::evaluate_matrix(matrix, &job.id, &context).map_err(|error| {
        let cause = std::error::Error::source(&error)
            .map(|source| format!(": {source}"))
            .unwrap_or_default();
        format!("{error}{cause}")
    })?;
    job.expand(&value)
        .map_err(|error| format!("invalid matrix of job `{}`: {error}", job.id))
}

/// Evaluates `max-parallel`: a number, or an expression giving a number or
/// a numeric string. Any other value means no limit.
fn max_parallel(value: &model::OrExpression<u64>, contexts: &Contexts) -> Option<usize> {
    match value {
        model::OrExpression::Literal(n) => Some(*n as usize),
        model::OrExpression::Expression(text) => {
            let value = eval::value(text, contexts).ok()?;
            let number = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))?;
            Some(number as usize)
        }
    }
}

/// Builds the task of one leg: names, key, plan and time limit.
fn leg_task(
    settings: &RunSettings,
    selected: &SelectedWorkflow,
    job: &JobPlan,
    leg: &Leg,
    contexts: &Contexts,
) -> Result<LegTask, String> {
    let evaluated_name =
        eval::template(&job.name, contexts).map_err(|e| format!("job name: {e}"))?;
    let display_name = job.leg_display_name(leg, &evaluated_name);
    let display_name = settings.masker.mask(&display_name);
    let key = keys::store_key(&selected.info.path, job, Some(leg));

    let model_job = &job.job;
    let timeout_minutes = match &model_job.timeout_minutes {
        None => None,
        Some(spanned) => step::flex_number(&Some(step::flex(&spanned.value)), contexts)
            .map_err(|e| e.to_string())?,
    };
    let timeout = match timeout_minutes {
        Some(minutes) if minutes.is_finite() && minutes >= 0.0 => {
            Duration::from_secs_f64(minutes * 60.0)
        }
        _ => DEFAULT_JOB_TIMEOUT,
    }
    .min(settings.job_timeout_cap);

    let continue_on_error = match &model_job.continue_on_error {
        None => false,
        Some(spanned) => step::flex_bool(&Some(step::flex(&spanned.value)), contexts)
            .map_err(|e| e.to_string())?,
    };

    Ok(LegTask {
        leg_index: leg.index,
        key,
        display_name,
        matrix: leg.matrix.clone().map(Value::Object),
        plan: executor_plan(&selected.workflow, model_job, contexts, timeout),
        defaults: merged_defaults(&selected.workflow, model_job),
        continue_on_error,
    })
}

/// Builds what the executor needs to run one leg of `job`.
fn executor_plan(
    workflow: &Workflow,
    job: &Job,
    contexts: &Contexts,
    timeout: Duration,
) -> ExecutorPlan {
    let env_pairs = |env: &model::Env| {
        env.iter()
            .map(|(k, v)| (k.to_string(), v.value.clone()))
            .collect::<Vec<_>>()
    };
    let mut fixed_contexts = Vec::new();
    for name in ["matrix", "strategy", "needs", "inputs", "secrets", "vars"] {
        if let Some(value) = contexts.get(name) {
            fixed_contexts.push((name.to_string(), value.clone()));
        }
    }
    let services: Map<String, Value> = job
        .services
        .keys()
        .map(|id| (id.to_string(), json!({})))
        .collect();

    ExecutorPlan {
        job_id: job.id.clone(),
        workflow_env: env_pairs(&workflow.env),
        job_env: env_pairs(&job.env),
        steps: job.steps().iter().map(StepDef::from_model).collect(),
        outputs: job
            .outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.value.clone()))
            .collect(),
        timeout,
        fixed_contexts,
        runs_on: crate::sandbox_launcher::job_labels(job.runs_on.as_ref(), contexts),
        container: job
            .container
            .as_ref()
            .map(|c| json!({ "image": c.image.value }))
            .unwrap_or(Value::Null),
        services: Value::Object(services),
    }
}

/// `defaults.run`: the job's values over the workflow's.
fn merged_defaults(workflow: &Workflow, job: &Job) -> RunDefaults {
    let mut defaults = RunDefaults::default();
    for source in [workflow.defaults.as_ref(), job.defaults.as_ref()]
        .into_iter()
        .flatten()
    {
        if let Some(shell) = &source.run.shell {
            defaults.shell = Some(shell.value.clone());
        }
        if let Some(dir) = &source.run.working_directory {
            defaults.working_directory = Some(dir.value.clone());
        }
    }
    defaults
}
