//! The plan: which jobs run for an event, and in which order.
//!
//! [`plan`] takes every loaded workflow of a repository and one [`Event`]
//! and decides:
//!
//! 1. which workflows run, from their `on:` triggers ([`crate::trigger`]),
//!    narrowed by a [`Selection`] (`--workflow`, `--job`);
//! 2. the jobs of each workflow in dependency order ([`crate::graph`]);
//! 3. the runs ("legs") of each job: one for a job without a matrix, one
//!    per combination otherwise ([`crate::matrix`]). A matrix written with
//!    `${{ }}` expressions is [`Legs::Deferred`] until its inputs are
//!    known: the runner evaluates it with [`evaluate_matrix`] once the jobs
//!    it needs have finished, then calls [`JobPlan::expand`].
//!
//! Every job and leg gets a key that is unique in the plan and safe as a
//! relative file path: `ci.yml/build` for a job and
//! `ci.yml/build/ubuntu-latest-1.8` for a matrix leg. Leg keys are built
//! from the matrix values, so they stay the same from run to run.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::expr::{self, Context, ExprError};
use crate::graph::{GraphError, JobGraph};
use crate::matrix::{self, Combination, MatrixError};
use crate::model::{Job, Matrix, MatrixAxes, MatrixRows, MatrixValues, OrExpression, Workflow};
use crate::trigger::{Event, TriggerError, on_matches};

/// Maximum length of the matrix part of a leg key before it is shortened
/// and made unique with a hash.
const MAX_LEG_SLUG: usize = 48;

/// The user's choice of workflow and job (`htci run --workflow ... --job ...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// A workflow's path, file name (`ci.yml`), file stem (`ci`) or `name:`.
    pub workflow: Option<String>,
    /// A job id. The job runs together with the jobs it needs.
    pub job: Option<String>,
    /// Runs every selected workflow whatever its `on:` triggers, as
    /// `htci run --workflow` does, so that a workflow can be tried with
    /// any event.
    pub ignore_triggers: bool,
}

/// Errors from planning a run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "unknown workflow `{value}`: no workflow has that path, file name, file stem or name; \
         workflows: {available}"
    )]
    UnknownWorkflow { value: String, available: String },

    #[error(
        "unknown job `{value}`: no selected workflow has a job with that id; jobs: {available}"
    )]
    UnknownJob { value: String, available: String },

    #[error(
        "workflow {workflow} does not run for {event}; its `on:` lists {triggers}, so pick a \
         matching event"
    )]
    WorkflowNotTriggered {
        workflow: String,
        event: String,
        triggers: String,
    },

    #[error(
        "job {job:?} is only in {workflows}, which does not run for {event}; pick a matching \
         event or another job"
    )]
    JobNotTriggered {
        job: String,
        workflows: String,
        event: String,
    },

    #[error("invalid trigger in {path}")]
    Trigger {
        path: String,
        #[source]
        source: TriggerError,
    },

    #[error("invalid job graph in {path}")]
    Graph {
        path: String,
        #[source]
        source: GraphError,
    },

    #[error("invalid matrix of job {job:?} in {path}")]
    Matrix {
        path: String,
        job: String,
        #[source]
        source: MatrixError,
    },

    #[error("failed to evaluate the matrix of job {job:?}")]
    MatrixExpression {
        job: String,
        #[source]
        source: ExprError,
    },
}

/// The jobs to run for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Triggered workflows, in the order they were given.
    pub workflows: Vec<WorkflowPlan>,
}

impl Plan {
    /// Returns every job of every workflow, in plan order.
    pub fn jobs(&self) -> impl Iterator<Item = &JobPlan> {
        self.workflows.iter().flat_map(|workflow| &workflow.jobs)
    }

    /// Returns true when no workflow runs.
    pub fn is_empty(&self) -> bool {
        self.workflows.is_empty()
    }
}

/// One triggered workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowPlan {
    /// The workflow's path as loaded.
    pub path: String,
    /// The file name, the first segment of every key in this workflow.
    pub file_name: String,
    /// `name:`, or the path when the workflow has none (as GitHub shows it).
    pub name: String,
    /// Selected jobs in dependency order.
    pub jobs: Vec<JobPlan>,
}

/// One job with its legs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPlan {
    /// The job id.
    pub id: String,
    /// `<file name>/<job id>`, unique in the plan.
    pub key: String,
    /// The job's `name:` as written, or its id.
    pub name: String,
    /// Ids of the jobs this job needs.
    pub needs: Vec<String>,
    /// Keys of the legs this job waits for: every leg of every job it
    /// needs. A needed job whose matrix is deferred appears as its job
    /// key, which stands for all legs that it expands to.
    pub needed_legs: Vec<String>,
    pub strategy: StrategyPlan,
    pub legs: Legs,
    /// The job as loaded, for the runner.
    pub job: Job,
}

/// `strategy:` settings with GitHub's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyPlan {
    /// `fail-fast:`, true by default: a failing leg cancels the others.
    pub fail_fast: OrExpression<bool>,
    /// `max-parallel:`; `None` means no limit beyond the runner's.
    pub max_parallel: Option<OrExpression<u64>>,
}

impl Default for StrategyPlan {
    fn default() -> Self {
        Self {
            fail_fast: OrExpression::Literal(true),
            max_parallel: None,
        }
    }
}

/// The runs of one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Legs {
    /// Known now: one leg without a matrix, or one per combination.
    Expanded(Vec<Leg>),
    /// A matrix with `${{ }}` expressions, expanded when the runner has
    /// evaluated it.
    Deferred(Matrix),
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Leg {
    /// The job key, plus `/<matrix values>` for a matrix leg. Unique in
    /// the plan and safe as a relative path.
    pub key: String,
    /// `build (ubuntu, 1.8)` for a matrix leg. When the job's `name:`
    /// contains `${{ }}`, this name still contains it, so the runner evaluates
    /// [`JobPlan::name`] with the leg's contexts and passes the result to
    /// [`JobPlan::leg_display_name`].
    pub display_name: String,
    /// The combination, or `None` for a job without a matrix.
    pub matrix: Option<Combination>,
    /// Zero-based position among the job's legs (`strategy.job-index`).
    pub index: usize,
    /// Number of legs of the job (`strategy.job-total`).
    pub total: usize,
}

/// Plans the run of `workflows` for `event`, narrowed by `selection`.
pub fn plan(
    workflows: &[Workflow],
    event: &Event,
    selection: &Selection,
) -> Result<Plan, PlanError> {
    let selected = select_workflows(workflows, selection)?;

    let mut triggered = Vec::new();
    for workflow in &selected {
        if selection.ignore_triggers || is_triggered(workflow, event)? {
            triggered.push(*workflow);
        } else if selection.workflow.is_some() {
            return Err(PlanError::WorkflowNotTriggered {
                workflow: workflow.path.clone(),
                event: describe_event(event),
                triggers: list_triggers(workflow),
            });
        }
    }

    let Some(job) = &selection.job else {
        let planned = triggered.into_iter().map(|w| plan_workflow(w, None));
        return Ok(Plan {
            workflows: planned.collect::<Result<_, _>>()?,
        });
    };
    check_job_exists(&selected, job)?;
    let with_job: Vec<&Workflow> = triggered
        .into_iter()
        .filter(|workflow| workflow.job(job).is_some())
        .collect();
    if with_job.is_empty() {
        let holders: Vec<&str> = selected
            .iter()
            .filter(|workflow| workflow.job(job).is_some())
            .map(|workflow| workflow.path.as_str())
            .collect();
        return Err(PlanError::JobNotTriggered {
            job: job.clone(),
            workflows: holders.join(", "),
            event: describe_event(event),
        });
    }
    let planned = with_job.into_iter().map(|w| plan_workflow(w, Some(job)));
    Ok(Plan {
        workflows: planned.collect::<Result<_, _>>()?,
    })
}

/// Applies `selection.workflow`, keeping the given order.
fn select_workflows<'a>(
    workflows: &'a [Workflow],
    selection: &Selection,
) -> Result<Vec<&'a Workflow>, PlanError> {
    let Some(requested) = &selection.workflow else {
        return Ok(workflows.iter().collect());
    };
    let selected: Vec<&Workflow> = workflows
        .iter()
        .filter(|workflow| workflow_matches_name(workflow, requested))
        .collect();
    if selected.is_empty() {
        let available: Vec<String> = workflows.iter().map(|w| file_name(&w.path)).collect();
        return Err(PlanError::UnknownWorkflow {
            value: requested.clone(),
            available: list_or_none(&available),
        });
    }
    Ok(selected)
}

fn workflow_matches_name(workflow: &Workflow, requested: &str) -> bool {
    let path = Path::new(&workflow.path);
    let stem = path.file_stem().map(|stem| stem.to_string_lossy());
    workflow.path == requested
        || file_name(&workflow.path) == requested
        || stem.is_some_and(|stem| stem == requested)
        || workflow
            .name
            .as_ref()
            .is_some_and(|name| name.value == requested)
}

fn check_job_exists(selected: &[&Workflow], job: &str) -> Result<(), PlanError> {
    if selected.iter().any(|workflow| workflow.job(job).is_some()) {
        return Ok(());
    }
    let available: Vec<String> = selected
        .iter()
        .map(|workflow| {
            let ids: Vec<&str> = workflow.jobs.keys().collect();
            format!("{} ({})", file_name(&workflow.path), ids.join(", "))
        })
        .collect();
    Err(PlanError::UnknownJob {
        value: job.to_string(),
        available: list_or_none(&available),
    })
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// Decides whether any trigger of `workflow` matches `event`.
fn is_triggered(workflow: &Workflow, event: &Event) -> Result<bool, PlanError> {
    on_matches(&workflow.on, event).map_err(|source| PlanError::Trigger {
        path: workflow.path.clone(),
        source,
    })
}

fn list_triggers(workflow: &Workflow) -> String {
    let events: Vec<&str> = workflow
        .on
        .triggers
        .iter()
        .map(|t| t.event.as_str())
        .collect();
    if events.is_empty() {
        "no events".to_string()
    } else {
        events.join(", ")
    }
}

/// Describes an event for messages: `push to refs/heads/main`.
pub fn describe_event(event: &Event) -> String {
    let mut text = event.name.clone();
    if let Some(activity) = &event.activity_type {
        text.push_str(&format!(" ({activity})"));
    }
    if let Some(base) = &event.base_ref {
        text.push_str(&format!(" into {base}"));
    } else if let Some(git_ref) = &event.git_ref {
        text.push_str(&format!(" to {git_ref}"));
    }
    text
}

/// Plans one triggered workflow, keeping only `job` and the jobs it needs
/// when a job is selected.
fn plan_workflow(workflow: &Workflow, job: Option<&String>) -> Result<WorkflowPlan, PlanError> {
    let graph_error = |source| PlanError::Graph {
        path: workflow.path.clone(),
        source,
    };
    let graph = JobGraph::new(workflow.jobs.iter().map(|(id, job)| {
        let needs: Vec<&str> = job.needs.iter().map(|need| need.value.as_str()).collect();
        (id, needs)
    }))
    .map_err(graph_error)?;

    let order: Vec<&str> = match job {
        Some(job) => graph.with_dependencies(&[job]),
        None => graph.topological_order().collect(),
    };

    let file = file_name(&workflow.path);
    let by_id: HashMap<&str, &Job> = workflow.jobs.iter().collect();
    let mut jobs: Vec<JobPlan> = Vec::with_capacity(order.len());
    let mut planned_index: HashMap<&str, usize> = HashMap::with_capacity(order.len());
    for id in order {
        let job = by_id[id];
        let needed_legs = job
            .needs
            .iter()
            .filter_map(|need| planned_index.get(need.value.as_str()))
            .flat_map(|&index| leg_keys_of(&jobs[index]))
            .collect();
        let planned = plan_job(&workflow.path, &file, job, needed_legs)?;
        planned_index.insert(id, jobs.len());
        jobs.push(planned);
    }

    let name = match &workflow.name {
        Some(name) => name.value.clone(),
        None => workflow.path.clone(),
    };
    Ok(WorkflowPlan {
        path: workflow.path.clone(),
        file_name: file,
        name,
        jobs,
    })
}

/// Plans one job. `needed_legs` lists the legs of the jobs it needs.
fn plan_job(
    path: &str,
    file: &str,
    job: &Job,
    needed_legs: Vec<String>,
) -> Result<JobPlan, PlanError> {
    let key = format!("{file}/{}", safe_segment(&job.id));
    let name = match &job.name {
        Some(name) => name.value.clone(),
        None => job.id.clone(),
    };
    let needs: Vec<String> = job.needs.iter().map(|need| need.value.clone()).collect();

    let mut planned = JobPlan {
        id: job.id.clone(),
        key,
        name,
        needs,
        needed_legs,
        strategy: strategy_of(job),
        legs: Legs::Expanded(Vec::new()),
        job: job.clone(),
    };
    planned.legs = match job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) {
        None => Legs::Expanded(vec![planned.single_leg()]),
        Some(matrix) => match literal_matrix(matrix) {
            None => Legs::Deferred(matrix.clone()),
            Some(value) => {
                let legs = planned.expand(&value).map_err(|source| PlanError::Matrix {
                    path: path.to_string(),
                    job: job.id.clone(),
                    source,
                })?;
                Legs::Expanded(legs)
            }
        },
    };
    Ok(planned)
}

/// Returns the keys a dependent job waits for.
fn leg_keys_of(job: &JobPlan) -> Vec<String> {
    match &job.legs {
        Legs::Expanded(legs) => legs.iter().map(|leg| leg.key.clone()).collect(),
        Legs::Deferred(_) => vec![job.key.clone()],
    }
}

fn strategy_of(job: &Job) -> StrategyPlan {
    let Some(strategy) = &job.strategy else {
        return StrategyPlan::default();
    };
    StrategyPlan {
        fail_fast: strategy
            .fail_fast
            .as_ref()
            .map_or(OrExpression::Literal(true), |value| value.value.clone()),
        max_parallel: strategy
            .max_parallel
            .as_ref()
            .map(|value| value.value.clone()),
    }
}

impl JobPlan {
    fn single_leg(&self) -> Leg {
        Leg {
            key: self.key.clone(),
            display_name: self.name.clone(),
            matrix: None,
            index: 0,
            total: 1,
        }
    }

    /// Expands an evaluated matrix into legs with keys and display names.
    /// The runner calls this for a [`Legs::Deferred`] job once
    /// [`evaluate_matrix`] has produced the matrix JSON.
    pub fn expand(&self, matrix: &Value) -> Result<Vec<Leg>, MatrixError> {
        let combinations = matrix::expand(matrix)?;
        let total = combinations.len();
        let mut used = HashSet::new();
        let legs = combinations
            .into_iter()
            .enumerate()
            .map(|(index, combination)| {
                let slug = unique_slug(&combination, index, &mut used);
                Leg {
                    key: format!("{}/{slug}", self.key),
                    display_name: self.name_with_values(&self.name, Some(&combination)),
                    matrix: Some(combination),
                    index,
                    total,
                }
            })
            .collect();
        Ok(legs)
    }

    /// Builds the display name of `leg` from `evaluated_name`, the job's
    /// [`name`](Self::name) with its `${{ }}` expressions evaluated for this
    /// leg. The matrix values are appended unless the name uses `matrix`.
    /// They are appended as text and never evaluated, because a matrix
    /// built from a job output may contain `${{`.
    pub fn leg_display_name(&self, leg: &Leg, evaluated_name: &str) -> String {
        self.name_with_values(evaluated_name, leg.matrix.as_ref())
    }

    fn name_with_values(&self, name: &str, combination: Option<&Combination>) -> String {
        match combination {
            Some(combination)
                if !combination.is_empty() && !matrix::name_uses_matrix(&self.name) =>
            {
                format!("{name} ({})", matrix::display_values(combination))
            }
            _ => name.to_string(),
        }
    }
}

/// Converts a matrix without expressions to JSON, or returns `None` when
/// any part of it needs evaluation.
pub(crate) fn literal_matrix(matrix: &Matrix) -> Option<Value> {
    let Matrix::Axes(axes) = matrix else {
        return None;
    };
    axes_to_json(axes, &mut |_| Err(())).ok()
}

/// Converts the mapping form of a matrix to JSON. `evaluate` replaces each
/// string written with `${{ }}` by its value. Evaluated values are never
/// evaluated again, so a job output that contains `${{` stays text.
fn axes_to_json<E>(
    axes: &MatrixAxes,
    evaluate: &mut dyn FnMut(&str) -> Result<Value, E>,
) -> Result<Value, E> {
    let mut map = serde_json::Map::new();
    for (key, values) in axes.axes.iter() {
        let value = match values {
            MatrixValues::List(items) => {
                let items = items
                    .iter()
                    .map(|item| resolve_literal(&item.value, evaluate));
                Value::Array(items.collect::<Result<_, E>>()?)
            }
            MatrixValues::Expression(template) => evaluate(&template.value)?,
        };
        map.insert(key.to_string(), value);
    }
    for (key, rows) in [("include", &axes.include), ("exclude", &axes.exclude)] {
        let value = match rows {
            None => continue,
            Some(MatrixRows::Expression(template)) => evaluate(&template.value)?,
            Some(MatrixRows::List(rows)) => {
                let mut list = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut entry = serde_json::Map::new();
                    for (name, data) in row.values.iter() {
                        entry.insert(name.to_string(), resolve_literal(&data.value, evaluate)?);
                    }
                    list.push(Value::Object(entry));
                }
                Value::Array(list)
            }
        };
        map.insert(key.to_string(), value);
    }
    Ok(Value::Object(map))
}

/// Copies a value written in the file, evaluating strings with `${{ }}`.
fn resolve_literal<E>(
    value: &Value,
    evaluate: &mut dyn FnMut(&str) -> Result<Value, E>,
) -> Result<Value, E> {
    match value {
        Value::String(text) if text.contains("${{") => evaluate(text),
        Value::Array(items) => items
            .iter()
            .map(|item| resolve_literal(item, evaluate))
            .collect::<Result<Vec<_>, E>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut resolved = serde_json::Map::new();
            for (key, item) in map {
                resolved.insert(key.clone(), resolve_literal(item, evaluate)?);
            }
            Ok(Value::Object(resolved))
        }
        other => Ok(other.clone()),
    }
}

/// Evaluates a matrix that contains `${{ }}` expressions into JSON for
/// [`JobPlan::expand`]. A string that is exactly one expression takes the
/// expression's value and type (`${{ fromJSON(needs.a.outputs.m) }}`
/// becomes a mapping). Any other string with expressions becomes the
/// interpolated string.
pub fn evaluate_matrix(matrix: &Matrix, job: &str, context: &Context) -> Result<Value, PlanError> {
    let mut evaluate = |text: &str| evaluate_string(text, context);
    let value = match matrix {
        Matrix::Expression(template) => evaluate(&template.value),
        Matrix::Axes(axes) => axes_to_json(axes, &mut evaluate),
    };
    value.map_err(|source| PlanError::MatrixExpression {
        job: job.to_string(),
        source,
    })
}

fn evaluate_string(text: &str, context: &Context) -> Result<Value, ExprError> {
    Ok(expr::evaluate_template(text, context)?.to_json())
}

/// Returns the file name of a workflow path, made safe as a key segment.
fn file_name(path: &str) -> String {
    let name = Path::new(path)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string());
    safe_segment(&name)
}

/// Makes `text` safe as one path segment: ASCII letters, digits, `.`, `_`
/// and `-` stay, everything else becomes `_`, and a leading `.` becomes
/// `_`, so the result is never empty, `.` or `..`.
pub fn safe_segment(text: &str) -> String {
    let mut segment: String = text
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    if segment.starts_with('.') {
        segment.replace_range(..1, "_");
    }
    if segment.is_empty() {
        segment.push('_');
    }
    segment
}

/// Builds the key segment of a matrix leg from its values, shortened and
/// suffixed with a hash when it is long or already used in the job.
fn unique_slug(combination: &Combination, index: usize, used: &mut HashSet<String>) -> String {
    let mut values = Vec::new();
    for value in combination.values() {
        values.push(value_text(value));
    }
    let readable = safe_segment(&values.join("-"));
    let mut slug = readable.clone();
    if slug.len() > MAX_LEG_SLUG || used.contains(&slug) {
        let mut short = readable;
        short.truncate(MAX_LEG_SLUG);
        slug = format!("{short}-{}", combination_hash(combination));
    }
    if used.contains(&slug) {
        // Identical combinations, which two identical `include` entries
        // can produce.
        slug = format!("{slug}-{index}");
    }
    used.insert(slug.clone());
    slug
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "null".to_string(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("-"),
        Value::Object(map) => map.values().map(value_text).collect::<Vec<_>>().join("-"),
        other => other.to_string(),
    }
}

/// Returns the first 8 hex digits of the SHA-256 of the combination's JSON.
fn combination_hash(combination: &Combination) -> String {
    let json = serde_json::to_string(combination).unwrap_or_default();
    let digest = Sha256::digest(json.as_bytes());
    hex::encode(&digest[..4])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn combination(value: Value) -> Combination {
        match value {
            Value::Object(map) => map,
            other => panic!("expected an object, got {other}"),
        }
    }

    #[test]
    fn safe_segment_rejects_traversal() {
        assert_eq!(safe_segment(".."), "_.");
        assert_eq!(safe_segment("."), "_");
        assert_eq!(safe_segment(""), "_");
        assert_eq!(safe_segment("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(safe_segment("ubuntu-latest"), "ubuntu-latest");
        assert_eq!(safe_segment("a b/c\\d\0é"), "a_b_c_d__");
    }

    #[test]
    fn slug_from_values() {
        let mut used = HashSet::new();
        let first = combination(json!({"os": "ubuntu", "rust": 1.8, "x": {"a": true}}));
        assert_eq!(unique_slug(&first, 0, &mut used), "ubuntu-1.8-true");
    }

    #[test]
    fn slug_collisions_get_hashes() {
        let mut used = HashSet::new();
        let spaced = combination(json!({"os": "a b"}));
        let underscored = combination(json!({"os": "a_b"}));
        assert_eq!(unique_slug(&underscored, 0, &mut used), "a_b");
        let second = unique_slug(&spaced, 1, &mut used);
        assert_eq!(second, format!("a_b-{}", combination_hash(&spaced)));
        assert_eq!(second.len(), "a_b-".len() + 8);

        let again = unique_slug(&spaced, 2, &mut used);
        assert_eq!(again, format!("{second}-2"));
    }

    #[test]
    fn long_slug_is_shortened() {
        let mut used = HashSet::new();
        let long = combination(json!({"name": "x".repeat(300)}));
        let slug = unique_slug(&long, 0, &mut used);
        assert_eq!(slug.len(), MAX_LEG_SLUG + 9);
        assert!(slug.starts_with(&"x".repeat(MAX_LEG_SLUG)));
    }

    #[test]
    fn describe_events() {
        assert_eq!(
            describe_event(&Event::push("refs/heads/main")),
            "push to refs/heads/main"
        );
        assert_eq!(
            describe_event(&Event::pull_request("main", "opened")),
            "pull_request (opened) into main"
        );
    }
}
