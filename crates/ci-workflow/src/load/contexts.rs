//! Context availability: which contexts and special functions an
//! expression may use, depending on the key it is written in.
//!
//! GitHub evaluates each key at a different moment of a run, so only some
//! contexts exist for it: `matrix` does not exist yet when a job's `if:` is
//! evaluated, `steps` only inside a job, `secrets` not in `run-name`. GitHub
//! rejects a workflow that reads an unavailable context.
//!
//! These findings are errors, as on GitHub: the expression would read a
//! context that does not exist yet, usually as null, and silently change
//! the meaning of the workflow.
//!
//! The status functions (`success()`, `always()`, `failure()`,
//! `cancelled()`) exist only in `if:` of jobs and steps, and `hashFiles()`
//! only in step keys.

use super::reader::Reader;
use crate::expr::{self, Expr, Function};
use crate::model::{
    CallSecrets, Condition, Container, Data, JobKind, Matrix, MatrixRows, MatrixValues,
    OrExpression, Position, RunsOn, Spanned, StepAction, Template, TriggerConfig, Workflow,
};

/// Contexts of `run-name`, workflow `concurrency` and `workflow_call`
/// input defaults.
const WORKFLOW_BASIC: &[&str] = &["github", "inputs", "vars"];
/// Contexts of workflow `env`.
const WORKFLOW_ENV: &[&str] = &["github", "inputs", "vars", "secrets"];
/// Contexts of `workflow_call` output values.
const CALL_OUTPUT: &[&str] = &["github", "inputs", "vars", "jobs"];
/// Contexts of a job's `if` and `strategy`.
const JOB_EARLY: &[&str] = &["github", "inputs", "vars", "needs"];
/// Contexts of most job keys: `name`, `runs-on`, `concurrency`,
/// `container`, `services`, `environment`, `continue-on-error`,
/// `timeout-minutes` and `with` of a reusable-workflow call.
const JOB_BASIC: &[&str] = &["github", "inputs", "vars", "needs", "strategy", "matrix"];
/// Contexts of a job's `env` and the `secrets` passed to a reusable
/// workflow.
const JOB_ENV: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "secrets",
];
/// Contexts of a job's `defaults.run`.
const JOB_DEFAULTS: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "env",
];
/// Contexts of container and service `credentials`.
const CREDENTIALS: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "env", "secrets",
];
/// Contexts of container and service `env`.
const CONTAINER_ENV: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "env", "secrets", "job", "runner",
];
/// Contexts of `environment.url`.
const ENVIRONMENT_URL: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "env", "job", "runner", "steps",
];
/// Contexts of step keys and job `outputs`.
const STEP: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "env", "secrets", "job", "runner",
    "steps",
];
/// Contexts of a step's `if`.
const STEP_IF: &[&str] = &[
    "github", "inputs", "vars", "needs", "strategy", "matrix", "env", "job", "runner", "steps",
];

/// The special functions a key allows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Functions {
    /// Neither status functions nor `hashFiles`.
    Plain,
    /// Status functions: a job's `if`.
    Status,
    /// `hashFiles`: step keys.
    HashFiles,
    /// Both: a step's `if`.
    StatusAndHashFiles,
}

/// The key an expression is written in: its label and context for
/// messages, and the contexts and functions it allows.
struct Key<'a> {
    label: &'a str,
    context: &'a str,
    contexts: &'static [&'static str],
    functions: Functions,
}

/// Checks every expression of the workflow against the contexts and
/// functions its key allows.
pub(super) fn check_contexts(reader: &mut Reader, workflow: &Workflow) {
    let top = "the workflow";
    check_template(
        reader,
        workflow.run_name.as_ref(),
        &key("\"run-name\"", top, WORKFLOW_BASIC),
    );
    if let Some(concurrency) = &workflow.concurrency {
        let concurrency_key = key("\"concurrency\"", top, WORKFLOW_BASIC);
        check_template(reader, Some(&concurrency.group), &concurrency_key);
        check_flag(
            reader,
            concurrency.cancel_in_progress.as_ref(),
            &concurrency_key,
        );
    }
    for (name, value) in workflow.env.iter() {
        let label = format!("env \"{name}\"");
        check_template(reader, Some(value), &key(&label, top, WORKFLOW_ENV));
    }
    check_triggers(reader, workflow);

    for (id, job) in workflow.jobs.iter() {
        let context = format!("job \"{id}\"");
        check_job(reader, job, &context);
        match &job.kind {
            JobKind::Steps(steps) => {
                for step in steps {
                    let step_context = format!("step {} of {context}", step.index + 1);
                    check_step(reader, step, &step_context);
                }
            }
            JobKind::Call(call) => {
                for (name, value) in call.with.iter() {
                    let label = format!("input \"{name}\"");
                    check_template(reader, Some(value), &key(&label, &context, JOB_BASIC));
                }
                if let Some(CallSecrets::Map(secrets)) = &call.secrets {
                    for (name, value) in secrets.iter() {
                        let label = format!("secret \"{name}\"");
                        check_template(reader, Some(value), &key(&label, &context, JOB_ENV));
                    }
                }
            }
        }
    }
}

fn key<'a>(label: &'a str, context: &'a str, contexts: &'static [&'static str]) -> Key<'a> {
    Key {
        label,
        context,
        contexts,
        functions: Functions::Plain,
    }
}

fn check_triggers(reader: &mut Reader, workflow: &Workflow) {
    for trigger in &workflow.on.triggers {
        let TriggerConfig::WorkflowCall(call) = &trigger.config else {
            continue;
        };
        for (name, input) in call.inputs.iter() {
            let Some(default) = &input.default else {
                continue;
            };
            if let Some(text) = default.value.as_str() {
                let context = format!("input \"{name}\" of \"workflow_call\"");
                let template = Template::new(text, default.pos);
                check_template(
                    reader,
                    Some(&template),
                    &key("\"default\"", &context, WORKFLOW_BASIC),
                );
            }
        }
        for (name, output) in call.outputs.iter() {
            let context = format!("output \"{name}\" of \"workflow_call\"");
            check_template(
                reader,
                Some(&output.value),
                &key("\"value\"", &context, CALL_OUTPUT),
            );
        }
    }
}

fn check_job(reader: &mut Reader, job: &crate::model::Job, context: &str) {
    let basic = |label: &'static str| key(label, context, JOB_BASIC);

    let if_key = Key {
        functions: Functions::Status,
        ..key("\"if\"", context, JOB_EARLY)
    };
    check_condition(reader, job.condition.as_ref(), &if_key);
    check_template(reader, job.name.as_ref(), &basic("\"name\""));
    if let Some(runs_on) = &job.runs_on {
        let labels = match runs_on {
            RunsOn::Labels(labels) => labels.iter().collect::<Vec<_>>(),
            RunsOn::Group { group, labels } => group.iter().chain(labels).collect(),
        };
        for label in labels {
            check_template(reader, Some(label), &basic("\"runs-on\""));
        }
    }
    for (name, value) in job.env.iter() {
        let label = format!("env \"{name}\"");
        check_template(reader, Some(value), &key(&label, context, JOB_ENV));
    }
    if let Some(defaults) = &job.defaults {
        let defaults_key = key("\"defaults.run\"", context, JOB_DEFAULTS);
        check_template(reader, defaults.run.shell.as_ref(), &defaults_key);
        check_template(
            reader,
            defaults.run.working_directory.as_ref(),
            &defaults_key,
        );
    }
    check_strategy(reader, job, context);
    check_flag(
        reader,
        job.continue_on_error.as_ref(),
        &basic("\"continue-on-error\""),
    );
    check_number(
        reader,
        job.timeout_minutes.as_ref(),
        &basic("\"timeout-minutes\""),
    );
    for (name, value) in job.outputs.iter() {
        let label = format!("output \"{name}\"");
        check_template(reader, Some(value), &key(&label, context, STEP));
    }
    if let Some(container) = &job.container {
        check_container(reader, container, &format!("\"container\" of {context}"));
    }
    for (name, service) in job.services.iter() {
        check_container(reader, service, &format!("service \"{name}\" of {context}"));
    }
    if let Some(environment) = &job.environment {
        check_template(reader, Some(&environment.name), &basic("\"environment\""));
        let url_key = key("\"environment.url\"", context, ENVIRONMENT_URL);
        check_template(reader, environment.url.as_ref(), &url_key);
    }
    if let Some(concurrency) = &job.concurrency {
        check_template(reader, Some(&concurrency.group), &basic("\"concurrency\""));
        check_flag(
            reader,
            concurrency.cancel_in_progress.as_ref(),
            &basic("\"concurrency\""),
        );
    }
}

fn check_strategy(reader: &mut Reader, job: &crate::model::Job, context: &str) {
    let Some(strategy) = &job.strategy else {
        return;
    };
    let strategy_key = key("\"strategy\"", context, JOB_EARLY);
    check_flag(reader, strategy.fail_fast.as_ref(), &strategy_key);
    if let Some(max_parallel) = &strategy.max_parallel
        && let OrExpression::Expression(text) = &max_parallel.value
    {
        check_text(reader, text, max_parallel.pos, &strategy_key);
    }

    match &strategy.matrix {
        None => {}
        Some(Matrix::Expression(template)) => check_template(reader, Some(template), &strategy_key),
        Some(Matrix::Axes(axes)) => {
            for (_, values) in axes.axes.iter() {
                match values {
                    MatrixValues::Expression(template) => {
                        check_template(reader, Some(template), &strategy_key);
                    }
                    MatrixValues::List(items) => {
                        for item in items {
                            check_data(reader, item, &strategy_key);
                        }
                    }
                }
            }
            for rows in [&axes.include, &axes.exclude].into_iter().flatten() {
                match rows {
                    MatrixRows::Expression(template) => {
                        check_template(reader, Some(template), &strategy_key);
                    }
                    MatrixRows::List(rows) => {
                        for (_, value) in rows.iter().flat_map(|row| row.values.iter()) {
                            check_data(reader, value, &strategy_key);
                        }
                    }
                }
            }
        }
    }
}

/// Checks a matrix value that is a string.
///
/// NOTE: strings nested in lists or objects of a matrix value are not
/// checked here, because their positions are not kept.
fn check_data(reader: &mut Reader, data: &Data, key: &Key) {
    if let Some(text) = data.value.as_str() {
        check_text(reader, text, data.pos, key);
    }
}

fn check_container(reader: &mut Reader, container: &Container, context: &str) {
    let basic = key("the container", context, JOB_BASIC);
    check_template(reader, Some(&container.image), &basic);
    for template in container.ports.iter().chain(&container.volumes) {
        check_template(reader, Some(template), &basic);
    }
    check_template(reader, container.options.as_ref(), &basic);
    if let Some(credentials) = &container.credentials {
        let credentials_key = key("\"credentials\"", context, CREDENTIALS);
        check_template(reader, Some(&credentials.username), &credentials_key);
        check_template(reader, Some(&credentials.password), &credentials_key);
    }
    for (name, value) in container.env.iter() {
        let label = format!("env \"{name}\"");
        check_template(reader, Some(value), &key(&label, context, CONTAINER_ENV));
    }
}

fn check_step(reader: &mut Reader, step: &crate::model::Step, context: &str) {
    let step_key = |label: &'static str| Key {
        functions: Functions::HashFiles,
        ..key(label, context, STEP)
    };

    let if_key = Key {
        functions: Functions::StatusAndHashFiles,
        ..key("\"if\"", context, STEP_IF)
    };
    check_condition(reader, step.condition.as_ref(), &if_key);
    check_template(reader, step.name.as_ref(), &step_key("\"name\""));
    for (name, value) in step.env.iter() {
        check_env_value(reader, name, value, context);
    }
    check_flag(
        reader,
        step.continue_on_error.as_ref(),
        &step_key("\"continue-on-error\""),
    );
    check_number(
        reader,
        step.timeout_minutes.as_ref(),
        &step_key("\"timeout-minutes\""),
    );
    match &step.action {
        StepAction::Run {
            run,
            working_directory,
            ..
        } => {
            check_template(reader, Some(run), &step_key("\"run\""));
            check_template(
                reader,
                working_directory.as_ref(),
                &step_key("\"working-directory\""),
            );
        }
        StepAction::Uses { with, .. } => {
            for (name, value) in with.iter() {
                let label = format!("input \"{name}\"");
                let with_key = Key {
                    functions: Functions::HashFiles,
                    ..key(&label, context, STEP)
                };
                check_template(reader, Some(value), &with_key);
            }
        }
    }
}

fn check_env_value(reader: &mut Reader, name: &str, value: &Template, context: &str) {
    let label = format!("env \"{name}\"");
    let env_key = Key {
        functions: Functions::HashFiles,
        ..key(&label, context, STEP)
    };
    check_template(reader, Some(value), &env_key);
}

fn check_flag(reader: &mut Reader, flag: Option<&Spanned<OrExpression<bool>>>, key: &Key) {
    if let Some(flag) = flag
        && let OrExpression::Expression(text) = &flag.value
    {
        check_text(reader, text, flag.pos, key);
    }
}

fn check_number(reader: &mut Reader, number: Option<&Spanned<OrExpression<f64>>>, key: &Key) {
    if let Some(number) = number
        && let OrExpression::Expression(text) = &number.value
    {
        check_text(reader, text, number.pos, key);
    }
}

fn check_template(reader: &mut Reader, template: Option<&Template>, key: &Key) {
    if let Some(template) = template {
        check_text(reader, &template.value, template.pos, key);
    }
}

/// Checks a template string. Syntax errors were reported when the value
/// was read, so a template that does not parse is skipped here.
fn check_text(reader: &mut Reader, text: &str, pos: Position, key: &Key) {
    if !text.contains("${{") {
        return;
    }
    if let Ok(template) = expr::Template::parse(text) {
        for expression in template.expressions() {
            check_expression(reader, expression, text, pos, key);
        }
    }
}

/// Checks an `if:` condition, which is an expression with or without
/// `${{ }}`.
fn check_condition(reader: &mut Reader, condition: Option<&Condition>, key: &Key) {
    let Some(condition) = condition else {
        return;
    };
    if condition.raw.contains("${{") {
        check_text(reader, &condition.raw, condition.pos, key);
    } else if let Ok(expression) = expr::parse(condition.raw.trim()) {
        check_expression(reader, &expression, &condition.raw, condition.pos, key);
    }
}

/// Checks one parsed expression of `text`, the value that starts at `pos`.
fn check_expression(reader: &mut Reader, expression: &Expr, text: &str, pos: Position, key: &Key) {
    let locate = |reader: &Reader, name: &str| {
        let offset = find_identifier(text, name).unwrap_or(0);
        reader.position_in_value(text, pos, offset)
    };

    for name in expression.named_values() {
        if !key.contexts.contains(&name) {
            let name_pos = locate(reader, name);
            reader.error(
                name_pos,
                format!(
                    "context \"{name}\" is not available in {} of {}, so GitHub rejects \
                     the workflow; available contexts are {}",
                    key.label,
                    key.context,
                    key.contexts.join(", ")
                ),
            );
        }
    }

    let mut functions: Vec<Function> = Vec::new();
    expression.visit(&mut |node| {
        if let Expr::Call { function, .. } = node
            && !functions.contains(function)
        {
            functions.push(*function);
        }
    });
    for function in functions {
        let allowed = match key.functions {
            Functions::Plain => !function.is_status_function() && function != Function::HashFiles,
            Functions::Status => function != Function::HashFiles,
            Functions::HashFiles => !function.is_status_function(),
            Functions::StatusAndHashFiles => true,
        };
        if allowed {
            continue;
        }
        let function_pos = locate(reader, function.name());
        let where_available = if function == Function::HashFiles {
            "step keys"
        } else {
            "\"if\" of jobs and steps"
        };
        reader.error(
            function_pos,
            format!(
                "function \"{}\" is not available in {} of {}, so GitHub rejects the \
                 workflow; it is only available in {where_available}",
                function.name(),
                key.label,
                key.context
            ),
        );
    }
}

/// Finds the byte offset of the first use of identifier `name` in `text`,
/// ignoring case, outside single-quoted string literals and not as part of
/// a longer identifier or after a `.` (where it would be a property name).
fn find_identifier(text: &str, name: &str) -> Option<usize> {
    let is_identifier_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let bytes = text.as_bytes();
    let mut in_string = false;

    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'\'' {
            in_string = !in_string;
            continue;
        }
        if in_string {
            continue;
        }
        let Some(candidate) = text.get(index..index + name.len()) else {
            continue;
        };
        let before_ok =
            index == 0 || !(is_identifier_byte(bytes[index - 1]) || bytes[index - 1] == b'.');
        let after_ok = bytes
            .get(index + name.len())
            .is_none_or(|&b| !is_identifier_byte(b));
        if before_ok && after_ok && candidate.eq_ignore_ascii_case(name) {
            return Some(index);
        }
    }
    None
}
