//! Planning one job once its needs have finished: its `if:`, its matrix
//! legs with their names, keys and time limits, and the executor's plan
//! of each leg.

use std::time::Duration;

use ci_core::status::Status;
use ci_workflow::matrix;
use ci_workflow::model::{self, Job, Workflow};
use serde_json::{Map, Value, json};

use super::{DEFAULT_JOB_TIMEOUT, RunSettings, SelectedWorkflow};
use crate::executor::eval::{self, Contexts, StatusState};
use crate::executor::job::{JobPlan, RunDefaults};
use crate::executor::step::{self, StepDef};

/// A leg ready to start.
pub(super) struct LegTask {
    pub(super) leg_index: usize,
    pub(super) key: String,
    pub(super) display_name: String,
    pub(super) matrix: Option<Value>,
    pub(super) plan: JobPlan,
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

pub(super) fn plan_unit(
    settings: &RunSettings,
    selected: &SelectedWorkflow,
    job: &Job,
    contexts: &Contexts,
    status: StatusState,
) -> UnitPlan {
    if status.cancelled {
        return UnitPlan::Finished(Status::Cancelled, "the run was cancelled".into());
    }
    let condition = job
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
    if let model::JobKind::Call(call) = &job.kind {
        return UnitPlan::Finished(
            Status::Skipped,
            format!(
                "reusable workflow `{}` was not run: htci does not run workflow calls yet",
                call.uses.value
            ),
        );
    }

    let combinations = match expand_matrix(job, contexts) {
        Ok(combinations) => combinations,
        Err(message) => return UnitPlan::Finished(Status::Failure, message),
    };
    let strategy = job.strategy.as_ref();
    let fail_fast = match strategy.and_then(|s| s.fail_fast.as_ref()) {
        None => true,
        Some(spanned) => {
            step::flex_bool(&Some(step::flex(&spanned.value)), contexts).unwrap_or(true)
        }
    };
    let max_parallel = match strategy.and_then(|s| s.max_parallel.as_ref()) {
        None => None,
        Some(spanned) => match &spanned.value {
            model::OrExpression::Literal(n) => Some(*n as usize),
            model::OrExpression::Expression(text) => eval::value(text, contexts)
                .ok()
                .and_then(|v| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .map(|n| n as usize),
        },
    };

    let total = combinations.len();
    let mut tasks = Vec::new();
    for (leg_index, combination) in combinations.into_iter().enumerate() {
        let mut leg_contexts = contexts.clone();
        let matrix_value = combination.clone().map(Value::Object);
        leg_contexts.set("matrix", matrix_value.clone().unwrap_or_else(|| json!({})));
        let strategy_value = json!({
            "fail-fast": fail_fast,
            "job-index": leg_index,
            "job-total": total,
            "max-parallel": max_parallel.unwrap_or(total),
        });
        leg_contexts.set("strategy", strategy_value);
        match leg_task(
            settings,
            selected,
            job,
            &leg_contexts,
            leg_index,
            combination.as_ref(),
        ) {
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

/// Expands the matrix of a job into combinations, `[None]` without one.
fn expand_matrix(
    job: &Job,
    contexts: &Contexts,
) -> Result<Vec<Option<matrix::Combination>>, String> {
    let Some(model_matrix) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) else {
        return Ok(vec![None]);
    };
    let definition = matrix_json(model_matrix, contexts)?;
    let combinations = matrix::expand(&definition).map_err(|e| format!("job `{}`: {e}", job.id))?;
    Ok(combinations.into_iter().map(Some).collect())
}

/// Converts the matrix definition to JSON, evaluating expression parts.
fn matrix_json(model_matrix: &model::Matrix, contexts: &Contexts) -> Result<Value, String> {
    let evaluate = |template: &model::Template| {
        eval::value(&template.value, contexts).map_err(|e| format!("matrix: {e}"))
    };
    match model_matrix {
        model::Matrix::Expression(template) => evaluate(template),
        model::Matrix::Axes(axes) => {
            let mut object = Map::new();
            for (name, values) in axes.axes.iter() {
                let value = match values {
                    model::MatrixValues::List(items) => {
                        Value::Array(items.iter().map(|d| d.value.clone()).collect())
                    }
                    model::MatrixValues::Expression(template) => evaluate(template)?,
                };
                object.insert(name.to_string(), value);
            }
            for (key, rows) in [("include", &axes.include), ("exclude", &axes.exclude)] {
                let Some(rows) = rows else { continue };
                let value = match rows {
                    model::MatrixRows::List(rows) => Value::Array(
                        rows.iter()
                            .map(|row| {
                                Value::Object(
                                    row.values
                                        .iter()
                                        .map(|(k, v)| (k.to_string(), v.value.clone()))
                                        .collect(),
                                )
                            })
                            .collect(),
                    ),
                    model::MatrixRows::Expression(template) => evaluate(template)?,
                };
                object.insert(key.to_string(), value);
            }
            Ok(Value::Object(object))
        }
    }
}

/// Builds the task of one leg: names, key, plan and time limit.
fn leg_task(
    settings: &RunSettings,
    selected: &SelectedWorkflow,
    job: &Job,
    contexts: &Contexts,
    leg_index: usize,
    combination: Option<&matrix::Combination>,
) -> Result<LegTask, String> {
    let base_name = match &job.name {
        Some(template) => {
            eval::template(&template.value, contexts).map_err(|e| format!("job name: {e}"))?
        }
        None => job.id.clone(),
    };
    let raw_name = job
        .name
        .as_ref()
        .map(|t| t.value.as_str())
        .unwrap_or(&job.id);
    let display_name = if matrix::name_uses_matrix(raw_name) {
        base_name
    } else {
        matrix::display_name(&base_name, combination)
    };
    let display_name = settings.masker.mask(&display_name);

    let leg = combination.is_some().then_some(leg_index + 1);
    let key = ci_store::job_key(&selected.info.path, &job.id, leg);

    let timeout_minutes = match &job.timeout_minutes {
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

    let continue_on_error = match &job.continue_on_error {
        None => false,
        Some(spanned) => step::flex_bool(&Some(step::flex(&spanned.value)), contexts)
            .map_err(|e| e.to_string())?,
    };

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

    let plan = JobPlan {
        job_id: job.id.clone(),
        workflow_env: env_pairs(&selected.workflow.env),
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
    };

    Ok(LegTask {
        leg_index,
        key,
        display_name,
        matrix: combination.map(|c| Value::Object(c.clone())),
        plan,
        defaults: merged_defaults(&selected.workflow, job),
        continue_on_error,
    })
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
