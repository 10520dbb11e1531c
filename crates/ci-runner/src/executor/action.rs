//! `uses:` steps.
//!
//! Three kinds are handled:
//! - `actions/checkout` (any version) is built in. The job's workspace
//!   already contains the commit, so without `path:` it only reports that;
//!   with a simple relative `path:` it checks the commit out there too.
//! - A local composite action (`uses: ./dir` whose `action.yml` has
//!   `runs.using: composite`) runs its steps in order, with its own
//!   `steps` context, `inputs` from `with:` and the input defaults, and
//!   its `outputs` mapped from those steps.
//! - Anything else (JavaScript and Docker actions, remote actions) is not
//!   run: the step is recorded as `skipped` with a warning naming it.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use ci_core::status::Status;
use serde_json::{Map, Value};

use super::eval::{self, Contexts};
use super::job::{JobEnv, JobState};
use super::step::{self, BodyResult, Flex, Scope, StepDef, StepKind, StepLog};
use crate::workspace;

/// Runs one `uses:` step.
#[allow(clippy::too_many_arguments)]
pub fn run_uses(
    env: &JobEnv,
    state: &mut JobState,
    scope: &mut Scope,
    uses: &str,
    with: &[(String, String)],
    contexts: &Contexts,
    own_env: &[(String, String)],
    log: &mut StepLog<'_>,
) -> BodyResult {
    let uses = uses.trim();
    let mut evaluated_with = Vec::new();
    for (key, template) in with {
        match eval::template(template, contexts) {
            Ok(value) => evaluated_with.push((key.clone(), value)),
            Err(error) => {
                log.error(&format!("with `{key}`: {error}"));
                return BodyResult::failure(None);
            }
        }
    }

    if is_checkout(uses) {
        return checkout(env, &evaluated_with, log);
    }
    if uses.starts_with("./") || uses.starts_with("../") {
        return local_action(env, state, scope, uses, &evaluated_with, own_env, log);
    }

    log.warning(&format!(
        "action `{uses}` was not run: htci runs only actions/checkout and local composite actions"
    ));
    skipped()
}

fn skipped() -> BodyResult {
    BodyResult {
        outcome: Status::Skipped,
        exit_code: None,
        outputs: BTreeMap::new(),
    }
}

/// Returns whether `uses` names `actions/checkout` at any version.
pub fn is_checkout(uses: &str) -> bool {
    let name = uses.split('@').next().unwrap_or_default();
    name.eq_ignore_ascii_case("actions/checkout")
}

fn checkout(env: &JobEnv, with: &[(String, String)], log: &mut StepLog<'_>) -> BodyResult {
    for (key, _) in with {
        if key != "path" {
            log.warning(&format!(
                "actions/checkout input `{key}` is ignored: the workspace already contains the commit under test"
            ));
        }
    }

    let path = with
        .iter()
        .find(|(key, _)| key == "path")
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty() && *value != ".");
    let Some(path) = path else {
        log.line(&format!(
            "workspace contains {} ({})",
            env.run.repo.sha,
            if env.run.repo.dirty {
                "with uncommitted changes"
            } else {
                "clean"
            }
        ));
        return BodyResult::success();
    };

    if !is_simple_relative(path) {
        log.warning(&format!(
            "actions/checkout `path: {path}` is not a relative path inside the workspace; the workspace root contains the commit instead"
        ));
        return BodyResult::success();
    }
    if crate::untrusted_fs::has_symlink(&env.dirs.workspace, Path::new(path)) {
        log.error(&format!(
            "actions/checkout `path: {path}` leads through a symbolic link; check out into a plain directory"
        ));
        return BodyResult::failure(None);
    }
    let dest = env.dirs.workspace.join(path);
    if dest.exists()
        && std::fs::read_dir(&dest)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        log.warning(&format!(
            "actions/checkout `path: {path}` is not empty; left as it is"
        ));
        return BodyResult::success();
    }
    match workspace::checkout(&env.run.repo, &dest, true) {
        Ok(()) => {
            log.line(&format!("checked out {} into {path}", env.run.repo.sha));
            BodyResult::success()
        }
        Err(error) => {
            log.error(&error.to_string());
            BodyResult::failure(None)
        }
    }
}

fn is_simple_relative(path: &str) -> bool {
    let path = Path::new(path);
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// A composite action read from `action.yml`.
#[derive(Debug, Clone)]
pub struct CompositeAction {
    /// Input names to default templates (`None` without `default:`).
    pub inputs: Vec<(String, Option<String>)>,
    /// Output names to `value:` templates.
    pub outputs: Vec<(String, String)>,
    pub steps: Vec<StepDef>,
}

/// The kind of action an `action.yml` describes.
#[derive(Debug)]
pub enum ActionKind {
    Composite(CompositeAction),
    /// `runs.using` of an action htci does not run (`node20`, `docker`).
    Other(String),
}

fn local_action(
    env: &JobEnv,
    state: &mut JobState,
    scope: &mut Scope,
    uses: &str,
    with: &[(String, String)],
    own_env: &[(String, String)],
    log: &mut StepLog<'_>,
) -> BodyResult {
    if !is_simple_relative(uses) {
        log.error(&format!(
            "local action `{uses}` must stay inside the workspace"
        ));
        return BodyResult::failure(None);
    }
    if crate::untrusted_fs::has_symlink(&env.dirs.workspace, Path::new(uses)) {
        log.error(&format!(
            "local action `{uses}` leads through a symbolic link; htci reads actions only from plain directories"
        ));
        return BodyResult::failure(None);
    }
    let dir = env.dirs.workspace.join(uses);
    let action = match load_action(&dir) {
        Ok(ActionKind::Composite(action)) => action,
        Ok(ActionKind::Other(using)) => {
            log.warning(&format!(
                "action `{uses}` was not run: it uses `{using}`, and htci runs only composite local actions"
            ));
            return skipped();
        }
        Err(message) => {
            log.error(&format!("action `{uses}`: {message}"));
            return BodyResult::failure(None);
        }
    };
    run_composite(env, state, scope, &action, &dir, with, own_env, log)
}

#[allow(clippy::too_many_arguments)]
fn run_composite(
    env: &JobEnv,
    state: &mut JobState,
    scope: &Scope,
    action: &CompositeAction,
    action_dir: &Path,
    with: &[(String, String)],
    own_env: &[(String, String)],
    log: &mut StepLog<'_>,
) -> BodyResult {
    let mut inner = Scope {
        steps: Map::new(),
        failed: scope.failed,
        inputs: Some(Value::Object(Map::new())),
        inherited_env: state.merged_env(scope, own_env),
        log_name: Some(log.name.clone()),
        action_path: Some(
            env.launcher
                .visible_path(action_dir)
                .to_string_lossy()
                .into_owned(),
        ),
    };

    let mut inputs = Map::new();
    for (name, default) in &action.inputs {
        let given = with.iter().find(|(key, _)| key.eq_ignore_ascii_case(name));
        let value = match (given, default) {
            (Some((_, value)), _) => value.clone(),
            (None, Some(template)) => {
                let contexts = state.step_contexts(&inner, &[]);
                match eval::template(template, &contexts) {
                    Ok(value) => value,
                    Err(error) => {
                        log.error(&format!("input `{name}` default: {error}"));
                        return BodyResult::failure(None);
                    }
                }
            }
            (None, None) => String::new(),
        };
        inputs.insert(name.clone(), Value::String(value));
    }
    for (key, _) in with {
        if !action
            .inputs
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(key))
        {
            log.warning(&format!(
                "unexpected input `{key}`: the action does not declare it"
            ));
        }
    }
    inner.inputs = Some(Value::Object(inputs));

    let starting_failed = inner.failed;
    inner.failed = false;
    let mut exit_code = Some(0);
    let mut cancelled = false;
    for def in &action.steps {
        let record = step::run_step(env, state, &mut inner, def);
        log.append(&record.log);
        if record.status == Status::Failure {
            exit_code = record.exit_code;
        }
        cancelled |= record.status == Status::Cancelled;
    }
    let failed = inner.failed;
    inner.failed = starting_failed || failed;

    let contexts = state.step_contexts(&inner, &[]);
    let mut outputs = BTreeMap::new();
    for (name, template) in &action.outputs {
        match eval::template(template, &contexts) {
            Ok(value) => {
                outputs.insert(name.clone(), value);
            }
            Err(error) => log.warning(&format!("output `{name}`: {error}")),
        }
    }

    BodyResult {
        outcome: if cancelled {
            Status::Cancelled
        } else if failed {
            Status::Failure
        } else {
            Status::Success
        },
        exit_code: if failed { exit_code } else { Some(0) },
        outputs,
    }
}

/// Reads `action.yml` (or `action.yaml`) in `dir`.
pub fn load_action(dir: &Path) -> Result<ActionKind, String> {
    let file = ["action.yml", "action.yaml"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("no action.yml or action.yaml in {}", dir.display()))?;
    let text = crate::untrusted_fs::read_step_file(&file, crate::untrusted_fs::MAX_STEP_FILE_BYTES)
        .map_err(|e| format!("failed to read {}: {e}", file.display()))?;
    parse_action(&text).map_err(|message| format!("{}: {message}", file.display()))
}

/// Parses the text of an `action.yml`.
pub fn parse_action(text: &str) -> Result<ActionKind, String> {
    let documents =
        yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let root = documents
        .first()
        .map(yaml_to_json)
        .ok_or_else(|| "empty file".to_string())?;

    let runs = root.get("runs").ok_or("missing `runs:`")?;
    let using = runs
        .get("using")
        .and_then(Value::as_str)
        .ok_or("missing `runs.using`")?;
    if using != "composite" {
        return Ok(ActionKind::Other(using.to_string()));
    }

    let inputs = match root.get("inputs") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, spec)| (name.clone(), spec.get("default").map(scalar_text)))
            .collect(),
        _ => Vec::new(),
    };
    let outputs = match root.get("outputs") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, spec)| {
                (
                    name.clone(),
                    spec.get("value").map(scalar_text).unwrap_or_default(),
                )
            })
            .collect(),
        _ => Vec::new(),
    };

    let steps = runs
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("a composite action needs `runs.steps`")?;
    let steps = steps
        .iter()
        .enumerate()
        .map(|(index, step)| composite_step(index, step))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(ActionKind::Composite(CompositeAction {
        inputs,
        outputs,
        steps,
    }))
}

fn composite_step(index: usize, step: &Value) -> Result<StepDef, String> {
    let text = |key: &str| step.get(key).map(scalar_text);
    let kind = if let Some(run) = text("run") {
        let shell = text("shell").ok_or_else(|| {
            format!("step {} of the composite action has `run:` without `shell:`; composite steps must name their shell", index + 1)
        })?;
        StepKind::Run {
            run,
            shell: Some(shell),
            working_directory: text("working-directory"),
        }
    } else if let Some(uses) = text("uses") {
        let with = match step.get("with") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), scalar_text(v)))
                .collect(),
            _ => Vec::new(),
        };
        StepKind::Uses { uses, with }
    } else {
        return Err(format!(
            "step {} of the composite action has neither `run:` nor `uses:`",
            index + 1
        ));
    };

    let env = match step.get("env") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), scalar_text(v)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(StepDef {
        id: text("id"),
        name: text("name"),
        condition: text("if"),
        kind,
        env,
        continue_on_error: step.get("continue-on-error").map(|v| match v {
            Value::Bool(b) => Flex::Literal(*b),
            other => Flex::Expression(scalar_text(other)),
        }),
        timeout_minutes: step.get("timeout-minutes").map(|v| match v.as_f64() {
            Some(n) => Flex::Literal(n),
            None => Flex::Expression(scalar_text(v)),
        }),
    })
}

/// Converts a YAML scalar to the string GitHub would read.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn yaml_to_json(yaml: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;

    match yaml {
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.clone())),
        Yaml::Integer(n) => Value::from(*n),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_names() {
        assert!(is_checkout("actions/checkout@v4"));
        assert!(is_checkout(
            "actions/checkout@8f4b7f84864484a7bf31766abe9204da3cbe65b3"
        ));
        assert!(!is_checkout("actions/setup-node@v4"));
    }

    #[test]
    fn composite_action_parsed() {
        let text = r#"
name: greet
inputs:
  who:
    default: world
  count:
    required: true
outputs:
  greeting:
    value: ${{ steps.say.outputs.text }}
runs:
  using: composite
  steps:
    - id: say
      run: echo "text=hi" >> "$GITHUB_OUTPUT"
      shell: bash
"#;
        let ActionKind::Composite(action) = parse_action(text).unwrap() else {
            panic!("expected a composite action");
        };
        assert_eq!(
            action.inputs,
            vec![
                ("who".to_string(), Some("world".to_string())),
                ("count".to_string(), None)
            ]
        );
        assert_eq!(action.outputs[0].1, "${{ steps.say.outputs.text }}");
        assert_eq!(action.steps[0].id.as_deref(), Some("say"));
    }

    #[test]
    fn composite_step_without_shell_rejected() {
        let text = "runs:\n  using: composite\n  steps:\n    - run: echo hi\n";
        let error = parse_action(text).unwrap_err();
        assert!(error.contains("without `shell:`"), "{error}");
    }

    #[test]
    fn node_action_is_other() {
        let text = "runs:\n  using: node20\n  main: index.js\n";
        assert!(
            matches!(parse_action(text).unwrap(), ActionKind::Other(using) if using == "node20")
        );
    }

    #[test]
    fn simple_relative_paths() {
        assert!(is_simple_relative("sub/dir"));
        assert!(is_simple_relative("./x"));
        assert!(!is_simple_relative("../x"));
        assert!(!is_simple_relative("/abs"));
    }
}
