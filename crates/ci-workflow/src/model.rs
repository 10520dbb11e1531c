//! The typed workflow model: every key of GitHub's workflow syntax, each
//! value with the position it was read from.
//!
//! The loader ([`crate::load`]) fills this model and rejects files with
//! errors, so a [`Workflow`] is always structurally valid: every job has
//! either steps or `uses`, every step has either `run` or `uses`, every
//! `needs` names a job of the workflow. Shorthand forms are normalized
//! (`runs-on: ubuntu-latest` becomes a one-label [`RunsOn::Labels`],
//! `needs: build` a one-item list, `on: push` a [`Trigger`] without
//! filters).
//!
//! Fields that GitHub evaluates at run time keep their raw text:
//! [`Template`] for strings that may contain `${{ }}` expressions and
//! [`Condition`] for `if:`. The runner evaluates them with
//! [`crate::expr`]. Values that GitHub reads as strings (env, `with`,
//! outputs) are converted from YAML numbers and booleans as GitHub converts
//! them, and keep the text as written in [`Template::source`].

use std::fmt;

use crate::trigger::EventFilter;
pub use crate::yaml::Position;

/// A value with the position it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Position,
}

impl<T> Spanned<T> {
    /// Wraps `value` read at `pos`.
    pub fn new(value: T, pos: Position) -> Self {
        Spanned { value, pos }
    }
}

/// A string that may contain `${{ expression }}` parts, evaluated at run
/// time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The string GitHub reads: the scalar's text, with YAML numbers,
    /// booleans and null converted as GitHub converts them (`3.10` becomes
    /// `3.1`, `true` stays `true`, `null` becomes the empty string).
    pub value: String,
    /// The scalar as written in the file (after YAML unescaping). Differs
    /// from `value` only for converted numbers.
    pub source: String,
    /// Position of the scalar (see [`crate::yaml::Node::pos`]).
    pub pos: Position,
}

impl Template {
    /// Creates a template whose value and source text are the same.
    pub fn new(value: impl Into<String>, pos: Position) -> Self {
        let value = value.into();
        Template {
            source: value.clone(),
            value,
            pos,
        }
    }

    /// Returns true when the string contains a `${{`, so it needs
    /// evaluation.
    pub fn has_expressions(&self) -> bool {
        self.value.contains("${{")
    }

    /// Returns the string when it contains no expression.
    pub fn as_literal(&self) -> Option<&str> {
        (!self.has_expressions()).then_some(self.value.as_str())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// An `if:` condition, as written: either a bare expression
/// (`github.ref == 'refs/heads/main'`) or one wrapped in `${{ }}`. A YAML
/// boolean is kept as its text (`true`, `false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub raw: String,
    pub pos: Position,
}

/// A value that is either a literal of type `T` or a `${{ }}` expression
/// evaluated at run time (`continue-on-error: ${{ matrix.experimental }}`).
#[derive(Debug, Clone, PartialEq)]
pub enum OrExpression<T> {
    Literal(T),
    /// The whole string, `${{ }}` included.
    Expression(String),
}

/// Data kept with its YAML types, as GitHub passes it to expressions
/// (matrix values, input defaults). Strings stay strings even when they
/// contain `${{ }}`.
pub type Data = Spanned<serde_json::Value>;

/// One entry of an [`OrderedMap`]: key, key position, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<V> {
    pub key: String,
    pub key_pos: Position,
    pub value: V,
}

/// A mapping that keeps the file order of its keys. Keys are unique (the
/// loader rejects duplicate keys).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<V> {
    pub entries: Vec<Entry<V>>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap {
            entries: Vec::new(),
        }
    }
}

impl<V> OrderedMap<V> {
    /// Returns the value for `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entry(key).map(|entry| &entry.value)
    }

    /// Returns the whole entry for `key`, with the key's position.
    pub fn entry(&self, key: &str) -> Option<&Entry<V>> {
        self.entries.iter().find(|entry| entry.key == key)
    }

    /// Iterates over keys and values in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries
            .iter()
            .map(|entry| (entry.key.as_str(), &entry.value))
    }

    /// Iterates over the keys in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.key.as_str())
    }

    /// Returns the number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns true when the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends an entry.
    pub fn push(&mut self, key: impl Into<String>, key_pos: Position, value: V) {
        self.entries.push(Entry {
            key: key.into(),
            key_pos,
            value,
        });
    }
}

/// Environment variables (`env:`), names to template values.
pub type Env = OrderedMap<Template>;

/// A whole workflow file.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// The path given to the loader, as shown in diagnostics.
    pub path: String,
    /// `name:`; GitHub shows the file path when it is missing.
    pub name: Option<Spanned<String>>,
    /// `run-name:`, the name of a run, which may use expressions.
    pub run_name: Option<Template>,
    pub on: On,
    pub env: Env,
    pub defaults: Option<Defaults>,
    pub concurrency: Option<Concurrency>,
    pub permissions: Option<Permissions>,
    /// Jobs in file order.
    pub jobs: OrderedMap<Job>,
}

impl Workflow {
    /// Returns the job with id `id`.
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.get(id)
    }
}

/// The `on:` section: the events that trigger the workflow, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct On {
    /// Position of the value of `on:`.
    pub pos: Position,
    pub triggers: Vec<Trigger>,
}

impl On {
    /// Returns the trigger for event `name` (`push`, `schedule`, ...).
    pub fn trigger(&self, name: &str) -> Option<&Trigger> {
        self.triggers.iter().find(|trigger| trigger.event == name)
    }
}

/// One event under `on:` with its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Event name such as `push` or `pull_request`.
    pub event: String,
    /// Position of the event name.
    pub pos: Position,
    /// `types`, branch, tag and path filters. All `None` when the event was
    /// given without configuration (`on: push`, `on: [push]` or `push:`
    /// with no value).
    pub filter: EventFilter,
    /// Event-specific settings.
    pub config: TriggerConfig,
}

/// The settings that only some events have.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TriggerConfig {
    /// Nothing beyond the [`EventFilter`].
    #[default]
    None,
    /// `schedule:` with its cron expressions (`- cron: '0 3 * * 1'`).
    Schedule(Vec<Spanned<String>>),
    /// `workflow_dispatch:` with its inputs.
    WorkflowDispatch(OrderedMap<DispatchInput>),
    /// `workflow_call:`, which makes this a reusable workflow.
    WorkflowCall(WorkflowCall),
    /// `workflow_run:` with the names of the workflows it follows.
    WorkflowRun(Vec<Spanned<String>>),
}

/// The type of a `workflow_dispatch` or `workflow_call` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputType {
    #[default]
    String,
    Boolean,
    Number,
    /// `choice` (dispatch only): one of the input's `options`.
    Choice,
    /// `environment` (dispatch only): one of the repository's environments.
    Environment,
}

impl InputType {
    /// Returns the name used in workflow files.
    pub fn as_str(&self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Boolean => "boolean",
            InputType::Number => "number",
            InputType::Choice => "choice",
            InputType::Environment => "environment",
        }
    }
}

/// One input of `workflow_dispatch`.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchInput {
    pub description: Option<Spanned<String>>,
    pub required: bool,
    /// `default:` with its YAML type (a boolean input may default to
    /// `true`).
    pub default: Option<Data>,
    /// `type:`; `string` when absent.
    pub input_type: InputType,
    /// `options:` of a `choice` input.
    pub options: Vec<Spanned<String>>,
}

/// The interface of a reusable workflow (`on: workflow_call`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkflowCall {
    pub inputs: OrderedMap<CallInput>,
    pub outputs: OrderedMap<CallOutput>,
    pub secrets: OrderedMap<CallSecret>,
}

/// One input of `workflow_call`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallInput {
    pub description: Option<Spanned<String>>,
    pub required: bool,
    pub default: Option<Data>,
    /// `type:`, required by GitHub: `string`, `boolean` or `number`.
    pub input_type: InputType,
}

/// One output of `workflow_call`: `value` is usually
/// `${{ jobs.<id>.outputs.<name> }}`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutput {
    pub description: Option<Spanned<String>>,
    pub value: Template,
}

/// One secret of `workflow_call`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSecret {
    pub description: Option<Spanned<String>>,
    pub required: bool,
}

/// `defaults:` of a workflow or job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    pub run: RunDefaults,
}

/// `defaults.run:`, applied to every `run` step that does not set its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunDefaults {
    pub shell: Option<Template>,
    pub working_directory: Option<Template>,
}

/// `concurrency:` of a workflow or job. The string form sets only `group`.
#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    /// Position of the value of `concurrency:`.
    pub pos: Position,
    pub group: Template,
    /// `cancel-in-progress:`; `None` when absent (GitHub's default: false).
    pub cancel_in_progress: Option<Spanned<OrExpression<bool>>>,
}

/// `permissions:` of the `GITHUB_TOKEN`.
#[derive(Debug, Clone, PartialEq)]
pub enum Permissions {
    /// `read-all`.
    ReadAll(Position),
    /// `write-all`.
    WriteAll(Position),
    /// A map of scopes (`contents: read`); scopes not listed get `none`.
    /// An empty map (`permissions: {}`) grants nothing.
    Scopes(OrderedMap<Spanned<PermissionLevel>>),
}

/// Access level of one permission scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PermissionLevel {
    None,
    Read,
    Write,
}

/// One job under `jobs:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job id (its key under `jobs:`).
    pub id: String,
    /// Position of the job id.
    pub pos: Position,
    /// `name:`, which may use `matrix` and other contexts.
    pub name: Option<Template>,
    /// `runs-on:`; always set for a job with steps, `None` for a job that
    /// calls a reusable workflow.
    pub runs_on: Option<RunsOn>,
    /// `needs:`, the job ids this job waits for.
    pub needs: Vec<Spanned<String>>,
    /// `if:`.
    pub condition: Option<Condition>,
    pub env: Env,
    pub defaults: Option<Defaults>,
    pub strategy: Option<Strategy>,
    pub continue_on_error: Option<Spanned<OrExpression<bool>>>,
    /// `timeout-minutes:`; GitHub's default is 360.
    pub timeout_minutes: Option<Spanned<OrExpression<f64>>>,
    /// `outputs:`, names to templates over `steps.*.outputs`.
    pub outputs: OrderedMap<Template>,
    pub container: Option<Container>,
    /// `services:`, service container ids to their definitions.
    pub services: OrderedMap<Container>,
    pub environment: Option<Environment>,
    pub concurrency: Option<Concurrency>,
    pub permissions: Option<Permissions>,
    /// The job's work: steps to run, or a reusable workflow to call.
    pub kind: JobKind,
}

/// The two shapes of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobKind {
    /// A job with `steps:`.
    Steps(Vec<Step>),
    /// A job with `uses:` that calls a reusable workflow.
    Call(WorkflowCallJob),
}

impl Job {
    /// Returns the steps, or an empty slice for a reusable-workflow job.
    pub fn steps(&self) -> &[Step] {
        match &self.kind {
            JobKind::Steps(steps) => steps,
            JobKind::Call(_) => &[],
        }
    }
}

/// A job that calls a reusable workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowCallJob {
    /// `uses:`: `./.github/workflows/x.yml` or
    /// `owner/repo/.github/workflows/x.yml@ref`.
    pub uses: Spanned<String>,
    /// `with:`, inputs of the called workflow.
    pub with: OrderedMap<Template>,
    pub secrets: Option<CallSecrets>,
}

/// `secrets:` of a reusable-workflow job.
#[derive(Debug, Clone, PartialEq)]
pub enum CallSecrets {
    /// `secrets: inherit`: pass all of the caller's secrets.
    Inherit(Position),
    /// Named secrets and their values.
    Map(OrderedMap<Template>),
}

/// `runs-on:`: the labels a runner must have.
#[derive(Debug, Clone, PartialEq)]
pub enum RunsOn {
    /// A label (`ubuntu-latest`) or a list of labels. A single label may
    /// be an expression that evaluates to a label or a list.
    Labels(Vec<Template>),
    /// `{ group, labels }`: a runner group, optionally with labels.
    Group {
        group: Option<Template>,
        labels: Vec<Template>,
    },
}

/// `strategy:` of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    /// Position of the value of `strategy:`.
    pub pos: Position,
    pub matrix: Option<Matrix>,
    /// `fail-fast:`; GitHub's default is true.
    pub fail_fast: Option<Spanned<OrExpression<bool>>>,
    pub max_parallel: Option<Spanned<OrExpression<u64>>>,
}

/// `strategy.matrix:`.
#[derive(Debug, Clone, PartialEq)]
pub enum Matrix {
    /// A whole expression such as `${{ fromJSON(needs.setup.outputs.m) }}`.
    Expression(Template),
    /// A mapping of axes with optional `include` and `exclude`.
    Axes(MatrixAxes),
}

/// The mapping form of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixAxes {
    /// Position of the matrix mapping.
    pub pos: Position,
    /// Axis names (`os`, `node`) to their values, in file order.
    pub axes: OrderedMap<MatrixValues>,
    pub include: Option<MatrixRows>,
    pub exclude: Option<MatrixRows>,
}

/// The values of one matrix axis.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixValues {
    /// A list of values, each keeping its YAML type.
    List(Vec<Data>),
    /// An expression that evaluates to a list.
    Expression(Template),
}

/// `include:` or `exclude:` of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixRows {
    /// A list of combinations.
    List(Vec<MatrixRow>),
    /// An expression that evaluates to a list of objects.
    Expression(Template),
}

/// One combination under `include:` or `exclude:`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixRow {
    /// Position of the row's mapping.
    pub pos: Position,
    pub values: OrderedMap<Data>,
}

/// `container:` of a job or one entry of `services:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// Position of the container's value (a string or a mapping).
    pub pos: Position,
    /// `image:`; the string form `container: node:20` sets only this.
    pub image: Template,
    pub credentials: Option<Credentials>,
    pub env: Env,
    /// `ports:` such as `5432:5432` or `80`.
    pub ports: Vec<Template>,
    /// `volumes:` such as `my_docker_volume:/volume_mount`.
    pub volumes: Vec<Template>,
    /// `options:`, extra `docker create` options.
    pub options: Option<Template>,
}

/// `credentials:` of a container registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub username: Template,
    pub password: Template,
}

/// `environment:` of a job. The string form sets only `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: Template,
    pub url: Option<Template>,
}

/// One step of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Position of the step's first key.
    pub pos: Position,
    /// 0-based index in the job's steps.
    pub index: usize,
    pub id: Option<Spanned<String>>,
    pub name: Option<Template>,
    /// `if:`.
    pub condition: Option<Condition>,
    /// The step's work: a command to run, or an action to use.
    pub action: StepAction,
    pub env: Env,
    pub continue_on_error: Option<Spanned<OrExpression<bool>>>,
    pub timeout_minutes: Option<Spanned<OrExpression<f64>>>,
}

/// The two shapes of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepAction {
    /// `run:` with its shell and working directory.
    Run {
        run: Template,
        shell: Option<Template>,
        working_directory: Option<Template>,
    },
    /// `uses:` with its `with:` inputs.
    Uses {
        /// `actions/checkout@v4`, `./path/to/action`, `docker://image`.
        uses: Spanned<String>,
        with: OrderedMap<Template>,
    },
}
