//! References from expressions to other parts of the same job:
//! `needs.<job>` must name a job in `needs`, `steps.<id>` a step with that
//! id that runs before, and `matrix.<key>` a key of the job's matrix.
//!
//! GitHub evaluates such a reference to null instead of failing, so a typo
//! silently turns a condition false or an output empty. These findings are
//! warnings for that reason: the workflow is valid but probably wrong.

use super::reader::Reader;
use crate::expr::{self, Expr, Value};
use crate::model::{
    CallSecrets, Container, Job, JobKind, Matrix, MatrixRows, MatrixValues, OrExpression, Position,
    RunsOn, Spanned, StepAction, Template,
};

/// One expression-bearing value of a job.
struct Site<'w> {
    text: &'w str,
    pos: Position,
    /// Index of the step the value belongs to; `None` for job keys.
    step: Option<usize>,
    /// True for the job's `outputs`, which may read every step.
    output: bool,
}

/// The names a job's expressions may refer to.
struct Scope<'w> {
    job: &'w Job,
    /// Keys of a matrix written as a mapping; `None` when the job has a
    /// matrix whose keys are only known at run time.
    matrix_keys: Option<Vec<String>>,
}

/// Warns about `needs`, `steps` and `matrix` references that name nothing.
pub(super) fn check_references(reader: &mut Reader, job: &Job) {
    let scope = Scope {
        job,
        matrix_keys: matrix_keys(job),
    };
    for site in job_sites(job) {
        for (context, property, offset) in references(site.text) {
            if let Some(problem) = check_reference(&scope, &site, &context, &property) {
                let pos = reader.position_in_value(site.text, site.pos, offset);
                reader.warning(pos, problem);
            }
        }
    }
}

/// Returns a warning message when `context.property` names nothing.
fn check_reference(scope: &Scope, site: &Site, context: &str, property: &str) -> Option<String> {
    let job = scope.job;
    let reference = format!("{context}.{property}");
    match context {
        "needs" => {
            let listed = job
                .needs
                .iter()
                .any(|need| need.value.eq_ignore_ascii_case(property));
            (!listed).then(|| {
                format!(
                    "\"{reference}\" in job \"{}\" is always null: \"{property}\" is not in its \
                     \"needs\"",
                    job.id
                )
            })
        }
        "steps" => {
            let steps = job.steps();
            let visible = match (site.output, site.step) {
                (true, _) => steps,
                (false, Some(index)) => &steps[..index],
                (false, None) => return None,
            };
            let found = visible.iter().any(|step| {
                step.id
                    .as_ref()
                    .is_some_and(|id| id.value.eq_ignore_ascii_case(property))
            });
            (!found).then(|| {
                let place = if site.output { "" } else { " before this step" };
                format!(
                    "\"{reference}\" in job \"{}\" is always null: no step{place} has the id \
                     \"{property}\"",
                    job.id
                )
            })
        }
        "matrix" => {
            let keys = scope.matrix_keys.as_ref()?;
            let found = keys.iter().any(|key| key.eq_ignore_ascii_case(property));
            (!found).then(|| {
                if keys.is_empty() {
                    format!(
                        "\"{reference}\" in job \"{}\" is always null: the job has no matrix",
                        job.id
                    )
                } else {
                    format!(
                        "\"{reference}\" in job \"{}\" is always null: the matrix has no key \
                         \"{property}\" (keys: {})",
                        job.id,
                        keys.join(", ")
                    )
                }
            })
        }
        _ => None,
    }
}

/// Returns the matrix keys of a job: its axes and the keys of its
/// `include` rows, an empty list without a matrix, or `None` when part of
/// the matrix is an expression.
fn matrix_keys(job: &Job) -> Option<Vec<String>> {
    let Some(matrix) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) else {
        return Some(Vec::new());
    };
    let Matrix::Axes(axes) = matrix else {
        return None;
    };
    let mut keys: Vec<String> = Vec::new();
    for (name, values) in axes.axes.iter() {
        if matches!(values, MatrixValues::Expression(_)) {
            return None;
        }
        keys.push(name.to_string());
    }
    match &axes.include {
        Some(MatrixRows::Expression(_)) => return None,
        Some(MatrixRows::List(rows)) => {
            for name in rows.iter().flat_map(|row| row.values.keys()) {
                if !keys.iter().any(|key| key == name) {
                    keys.push(name.to_string());
                }
            }
        }
        None => {}
    }
    Some(keys)
}

/// Finds `context.property` and `context['property']` references in the
/// `${{ }}` parts of a template (or in a bare `if:` expression) and
/// returns them with the byte offset of the context name.
fn references(text: &str) -> Vec<(String, String, usize)> {
    let expressions: Vec<Expr> = if text.contains("${{") {
        match expr::Template::parse(text) {
            Ok(template) => template.expressions().cloned().collect(),
            Err(_) => return Vec::new(),
        }
    } else {
        match expr::parse(text.trim()) {
            Ok(expression) => vec![expression],
            Err(_) => return Vec::new(),
        }
    };

    let mut found = Vec::new();
    for expression in &expressions {
        expression.visit(&mut |node| {
            let Expr::Index { target, index } = node else {
                return;
            };
            let (Expr::NamedValue(context), Expr::Literal(Value::String(property))) =
                (target.as_ref(), index.as_ref())
            else {
                return;
            };
            if !["needs", "steps", "matrix"].contains(&context.as_str()) {
                return;
            }
            let offset = find_reference(text, context, property).unwrap_or(0);
            found.push((context.clone(), property.clone(), offset));
        });
    }
    found
}

/// Finds the byte offset of `context.property` in `text`, ignoring ASCII
/// case.
fn find_reference(text: &str, context: &str, property: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let dotted = format!("{context}.{}", property.to_ascii_lowercase());
    lower
        .find(&dotted)
        .or_else(|| lower.find(&format!("{context}[")))
}

/// Lists the expression-bearing values of a job, its steps included.
fn job_sites(job: &Job) -> Vec<Site<'_>> {
    let mut sites = Vec::new();

    let mut job_templates: Vec<&Template> = Vec::new();
    job_templates.extend(&job.name);
    if let Some(runs_on) = &job.runs_on {
        match runs_on {
            RunsOn::Labels(labels) => job_templates.extend(labels),
            RunsOn::Group { group, labels } => {
                job_templates.extend(group);
                job_templates.extend(labels);
            }
        }
    }
    job_templates.extend(job.env.iter().map(|(_, value)| value));
    for container in job
        .container
        .iter()
        .chain(job.services.iter().map(|(_, c)| c))
    {
        job_templates.extend(container_templates(container));
    }
    if let Some(environment) = &job.environment {
        job_templates.push(&environment.name);
        job_templates.extend(&environment.url);
    }
    if let Some(concurrency) = &job.concurrency {
        job_templates.push(&concurrency.group);
    }
    if let JobKind::Call(call) = &job.kind {
        job_templates.extend(call.with.iter().map(|(_, value)| value));
        if let Some(CallSecrets::Map(secrets)) = &call.secrets {
            job_templates.extend(secrets.iter().map(|(_, value)| value));
        }
    }
    for template in job_templates {
        add_site(&mut sites, template, None, false);
    }
    for (_, output) in job.outputs.iter() {
        add_site(&mut sites, output, None, true);
    }

    for step in job.steps() {
        let mut step_templates: Vec<&Template> = Vec::new();
        step_templates.extend(&step.name);
        step_templates.extend(step.env.iter().map(|(_, value)| value));
        match &step.action {
            StepAction::Run {
                run,
                working_directory,
                ..
            } => {
                step_templates.push(run);
                step_templates.extend(working_directory);
            }
            StepAction::Uses { with, .. } => {
                step_templates.extend(with.iter().map(|(_, value)| value));
            }
        }
        for template in step_templates {
            add_site(&mut sites, template, Some(step.index), false);
        }
    }

    add_expression_sites(&mut sites, job);
    sites
}

fn add_site<'w>(
    sites: &mut Vec<Site<'w>>,
    template: &'w Template,
    step: Option<usize>,
    output: bool,
) {
    sites.push(Site {
        text: template.value.as_str(),
        pos: template.pos,
        step,
        output,
    });
}

/// Adds the `if:` conditions and the `${{ }}` flags and numbers of a job
/// and its steps.
fn add_expression_sites<'w>(sites: &mut Vec<Site<'w>>, job: &'w Job) {
    let mut push = |text: &'w str, pos: Position, step: Option<usize>| {
        sites.push(Site {
            text,
            pos,
            step,
            output: false,
        });
    };

    if let Some(condition) = &job.condition {
        push(&condition.raw, condition.pos, None);
    }
    for (text, pos) in expressions_of(&job.continue_on_error, &job.timeout_minutes) {
        push(text, pos, None);
    }
    for step in job.steps() {
        if let Some(condition) = &step.condition {
            push(&condition.raw, condition.pos, Some(step.index));
        }
        for (text, pos) in expressions_of(&step.continue_on_error, &step.timeout_minutes) {
            push(text, pos, Some(step.index));
        }
    }
}

/// Returns the expression texts of `continue-on-error` and
/// `timeout-minutes` when they are expressions.
fn expressions_of<'w>(
    flag: &'w Option<Spanned<OrExpression<bool>>>,
    number: &'w Option<Spanned<OrExpression<f64>>>,
) -> Vec<(&'w str, Position)> {
    let mut found = Vec::new();
    if let Some(Spanned {
        value: OrExpression::Expression(text),
        pos,
    }) = flag
    {
        found.push((text.as_str(), *pos));
    }
    if let Some(Spanned {
        value: OrExpression::Expression(text),
        pos,
    }) = number
    {
        found.push((text.as_str(), *pos));
    }
    found
}

fn container_templates(container: &Container) -> Vec<&Template> {
    let mut templates = vec![&container.image];
    templates.extend(&container.options);
    templates.extend(&container.ports);
    templates.extend(&container.volumes);
    templates.extend(container.env.iter().map(|(_, value)| value));
    if let Some(credentials) = &container.credentials {
        templates.push(&credentials.username);
        templates.push(&credentials.password);
    }
    templates
}
