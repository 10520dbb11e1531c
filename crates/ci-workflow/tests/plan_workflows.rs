//! Planning real workflow files: YAML text through the loader into a plan.

use ci_workflow::expr::Context;
use ci_workflow::load::load_workflow_str;
use ci_workflow::model::{Data, Matrix, MatrixValues, OrExpression, Workflow};
use ci_workflow::plan::{Legs, PlanError, Selection, evaluate_matrix, plan};
use ci_workflow::trigger::Event;
use serde_json::json;

fn load(path: &str, text: &str) -> Workflow {
    match load_workflow_str(path, text) {
        Ok(loaded) => loaded.workflow,
        Err(error) => panic!("{path} failed to load: {:?}", error.diagnostics()),
    }
}

const CI: &str = r#"
name: CI
on:
  push:
    branches: [main]
  pull_request:
jobs:
  deploy:
    needs: [test, lint]
    runs-on: ubuntu-latest
    steps:
      - run: ./deploy
  test:
    needs: build
    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: false
      max-parallel: 2
      matrix:
        os: [ubuntu-latest, macos-latest]
        rust: [1.80, stable]
        exclude:
          - os: macos-latest
            rust: 1.80
    steps:
      - run: cargo test
  build:
    runs-on: ubuntu-latest
    steps:
      - run: cargo build
  lint:
    name: Lint ${{ matrix.tool }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        tool: [clippy, fmt]
    steps:
      - run: cargo ${{ matrix.tool }}
"#;

const RELEASE: &str = r#"
on:
  push:
    tags: ['v*']
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - run: ./publish
"#;

fn workflows() -> Vec<Workflow> {
    vec![
        load(".github/workflows/ci.yml", CI),
        load(".github/workflows/release.yml", RELEASE),
    ]
}

fn no_selection() -> Selection {
    Selection::default()
}

#[test]
fn push_to_main_runs_only_ci() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/heads/main"),
        &no_selection(),
    )
    .unwrap();
    assert_eq!(planned.workflows.len(), 1);
    let ci = &planned.workflows[0];
    assert_eq!(ci.path, ".github/workflows/ci.yml");
    assert_eq!(ci.file_name, "ci.yml");
    assert_eq!(ci.name, "CI");
}

#[test]
fn tag_push_runs_only_release() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/tags/v1.2"),
        &no_selection(),
    )
    .unwrap();
    assert_eq!(planned.workflows.len(), 1);
    assert_eq!(planned.workflows[0].name, ".github/workflows/release.yml");
    assert_eq!(planned.workflows[0].jobs[0].key, "release.yml/publish");
}

#[test]
fn push_to_other_branch_runs_nothing() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/heads/dev"),
        &no_selection(),
    )
    .unwrap();
    assert!(planned.is_empty());
}

#[test]
fn jobs_in_dependency_order() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/heads/main"),
        &no_selection(),
    )
    .unwrap();
    let ids: Vec<&str> = planned.jobs().map(|job| job.id.as_str()).collect();
    assert_eq!(ids, ["build", "test", "lint", "deploy"]);
}

#[test]
fn matrix_legs_have_keys_and_names() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/heads/main"),
        &no_selection(),
    )
    .unwrap();
    let test = planned.jobs().find(|job| job.id == "test").unwrap();
    let Legs::Expanded(legs) = &test.legs else {
        panic!("the test matrix has no expressions, so it expands at once");
    };
    let keys: Vec<&str> = legs.iter().map(|leg| leg.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ci.yml/test/ubuntu-latest-1.8",
            "ci.yml/test/ubuntu-latest-stable",
            "ci.yml/test/macos-latest-stable",
        ]
    );
    let names: Vec<&str> = legs.iter().map(|leg| leg.display_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "test (ubuntu-latest, 1.8)",
            "test (ubuntu-latest, stable)",
            "test (macos-latest, stable)",
        ]
    );
    assert_eq!(legs[1].index, 1);
    assert_eq!(legs[1].total, 3);
    assert_eq!(
        legs[2].matrix.as_ref().map(|m| json!(m)),
        Some(json!({"os": "macos-latest", "rust": "stable"}))
    );
}

#[test]
fn name_with_matrix_expression_keeps_template() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/heads/main"),
        &no_selection(),
    )
    .unwrap();
    let lint = planned.jobs().find(|job| job.id == "lint").unwrap();
    let Legs::Expanded(legs) = &lint.legs else {
        panic!("the lint matrix expands at once");
    };
    assert_eq!(legs[0].display_name, "Lint ${{ matrix.tool }}");
    assert_eq!(legs[0].key, "ci.yml/lint/clippy");
    assert_eq!(legs[1].key, "ci.yml/lint/fmt");
}

#[test]
fn needs_map_onto_legs() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/heads/main"),
        &no_selection(),
    )
    .unwrap();
    let deploy = planned.jobs().find(|job| job.id == "deploy").unwrap();
    assert_eq!(deploy.needs, ["test", "lint"]);
    assert_eq!(
        deploy.needed_legs,
        [
            "ci.yml/test/ubuntu-latest-1.8",
            "ci.yml/test/ubuntu-latest-stable",
            "ci.yml/test/macos-latest-stable",
            "ci.yml/lint/clippy",
            "ci.yml/lint/fmt",
        ]
    );
    let test = planned.jobs().find(|job| job.id == "test").unwrap();
    assert_eq!(test.needed_legs, ["ci.yml/build"]);
}

#[test]
fn strategy_values_and_defaults() {
    let planned = plan(
        &workflows(),
        &Event::push("refs/heads/main"),
        &no_selection(),
    )
    .unwrap();
    let test = planned.jobs().find(|job| job.id == "test").unwrap();
    assert_eq!(test.strategy.fail_fast, OrExpression::Literal(false));
    assert_eq!(test.strategy.max_parallel, Some(OrExpression::Literal(2)));
    let build = planned.jobs().find(|job| job.id == "build").unwrap();
    assert_eq!(build.strategy.fail_fast, OrExpression::Literal(true));
    assert_eq!(build.strategy.max_parallel, None);
    let Legs::Expanded(legs) = &build.legs else {
        panic!("a job without a matrix has one leg");
    };
    assert_eq!(legs.len(), 1);
    assert_eq!(legs[0].key, "ci.yml/build");
    assert_eq!(legs[0].display_name, "build");
    assert_eq!(legs[0].matrix, None);
}

#[test]
fn pull_request_uses_default_types() {
    let opened = Event::pull_request("main", "opened");
    assert_eq!(
        plan(&workflows(), &opened, &no_selection())
            .unwrap()
            .workflows
            .len(),
        1
    );
    let closed = Event::pull_request("main", "closed");
    assert!(
        plan(&workflows(), &closed, &no_selection())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn job_selection_adds_dependencies() {
    let selection = Selection {
        workflow: None,
        job: Some("test".to_string()),
        ..Selection::default()
    };
    let planned = plan(&workflows(), &Event::push("refs/heads/main"), &selection).unwrap();
    let ids: Vec<&str> = planned.jobs().map(|job| job.id.as_str()).collect();
    assert_eq!(ids, ["build", "test"]);
}

#[test]
fn unknown_job_lists_jobs() {
    let selection = Selection {
        workflow: None,
        job: Some("tset".to_string()),
        ..Selection::default()
    };
    let error = plan(&workflows(), &Event::push("refs/heads/main"), &selection).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown job `tset`: no selected workflow has a job with that id; jobs: ci.yml (deploy, \
         test, build, lint), release.yml (publish)"
    );
}

#[test]
fn unknown_workflow_lists_workflows() {
    let selection = Selection {
        workflow: Some("nightly".to_string()),
        job: None,
        ..Selection::default()
    };
    let error = plan(&workflows(), &Event::push("refs/heads/main"), &selection).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown workflow `nightly`: no workflow has that path, file name, file stem or name; \
         workflows: ci.yml, release.yml"
    );
}

#[test]
fn workflow_selected_by_stem_name_or_path() {
    let event = Event::push("refs/heads/main");
    for value in ["ci", "ci.yml", "CI", ".github/workflows/ci.yml"] {
        let selection = Selection {
            workflow: Some(value.to_string()),
            job: None,
            ..Selection::default()
        };
        let planned = plan(&workflows(), &event, &selection).unwrap();
        assert_eq!(planned.workflows.len(), 1, "{value}");
        assert_eq!(planned.workflows[0].file_name, "ci.yml", "{value}");
    }
}

#[test]
fn selected_workflow_not_triggered_is_an_error() {
    let selection = Selection {
        workflow: Some("release".to_string()),
        job: None,
        ..Selection::default()
    };
    let error = plan(&workflows(), &Event::push("refs/heads/main"), &selection).unwrap_err();
    assert_eq!(
        error.to_string(),
        "workflow .github/workflows/release.yml does not run for push to refs/heads/main; its \
         `on:` lists push, so pick a matching event"
    );
}

#[test]
fn ignore_triggers_runs_selected_workflow() {
    let selection = Selection {
        workflow: Some("release".to_string()),
        ignore_triggers: true,
        ..Selection::default()
    };
    let planned = plan(&workflows(), &Event::push("refs/heads/main"), &selection).unwrap();
    assert_eq!(planned.workflows.len(), 1);
    assert_eq!(planned.workflows[0].file_name, "release.yml");
    let ids: Vec<&str> = planned.jobs().map(|job| job.id.as_str()).collect();
    assert_eq!(ids, ["publish"]);
}

#[test]
fn ignore_triggers_keeps_job_selection() {
    let selection = Selection {
        workflow: Some("ci".to_string()),
        job: Some("test".to_string()),
        ignore_triggers: true,
    };
    let closed = Event::pull_request("main", "closed");
    let planned = plan(&workflows(), &closed, &selection).unwrap();
    let ids: Vec<&str> = planned.jobs().map(|job| job.id.as_str()).collect();
    assert_eq!(ids, ["build", "test"]);

    let selection = Selection {
        job: Some("publish".to_string()),
        ..selection
    };
    let error = plan(&workflows(), &closed, &selection).unwrap_err();
    assert!(matches!(error, PlanError::UnknownJob { .. }), "{error}");
}

#[test]
fn selected_job_not_triggered_is_an_error() {
    let selection = Selection {
        workflow: None,
        job: Some("publish".to_string()),
        ..Selection::default()
    };
    let error = plan(&workflows(), &Event::push("refs/heads/main"), &selection).unwrap_err();
    assert!(
        matches!(error, PlanError::JobNotTriggered { .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "job \"publish\" is only in .github/workflows/release.yml, which does not run for push \
         to refs/heads/main; pick a matching event or another job"
    );
}

const DYNAMIC: &str = r#"
on: push
jobs:
  setup:
    runs-on: ubuntu-latest
    outputs:
      matrix: ${{ steps.m.outputs.matrix }}
    steps:
      - id: m
        run: echo "matrix={}" >> "$GITHUB_OUTPUT"
  build:
    needs: setup
    runs-on: ubuntu-latest
    strategy:
      matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}
    steps:
      - run: make
  check:
    needs: build
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: ['${{ github.event_name }}-x', plain]
    steps:
      - run: make check
"#;

#[test]
fn expression_matrix_is_deferred() {
    let workflows = vec![load(".github/workflows/dynamic.yml", DYNAMIC)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let build = planned.jobs().find(|job| job.id == "build").unwrap();
    assert!(matches!(build.legs, Legs::Deferred(_)));
    let check = planned.jobs().find(|job| job.id == "check").unwrap();
    assert!(matches!(check.legs, Legs::Deferred(_)));
    assert_eq!(check.needed_legs, ["dynamic.yml/build"]);
}

#[test]
fn deferred_matrix_expands_after_evaluation() {
    let workflows = vec![load(".github/workflows/dynamic.yml", DYNAMIC)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let build = planned.jobs().find(|job| job.id == "build").unwrap();
    let Legs::Deferred(matrix) = &build.legs else {
        panic!("build has an expression matrix");
    };

    let output =
        json!({"target": ["x86_64", "aarch64"], "include": [{"target": "aarch64", "cross": true}]});
    let context = Context::new().with(
        "needs",
        json!({"setup": {"result": "success", "outputs": {"matrix": output.to_string()}}}),
    );
    let evaluated = evaluate_matrix(matrix, "build", &context).unwrap();
    assert_eq!(evaluated, output);

    let legs = build.expand(&evaluated).unwrap();
    let keys: Vec<&str> = legs.iter().map(|leg| leg.key.as_str()).collect();
    assert_eq!(
        keys,
        ["dynamic.yml/build/x86_64", "dynamic.yml/build/aarch64-true"]
    );
    assert_eq!(legs[1].display_name, "build (aarch64, true)");
}

#[test]
fn leg_names_from_evaluated_job_names() {
    let text = r#"
on: push
jobs:
  plain:
    name: Build ${{ github.ref_name }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [linux]
    steps: [{run: 'true'}]
  named:
    name: Test on ${{ matrix.os }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [linux]
    steps: [{run: 'true'}]
"#;
    let workflows = vec![load(".github/workflows/names.yml", text)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let plain = planned.jobs().find(|job| job.id == "plain").unwrap();
    let Legs::Expanded(legs) = &plain.legs else {
        panic!("plain has a literal matrix");
    };
    assert_eq!(legs[0].display_name, "Build ${{ github.ref_name }} (linux)");
    assert_eq!(
        plain.leg_display_name(&legs[0], "Build main"),
        "Build main (linux)"
    );

    let named = planned.jobs().find(|job| job.id == "named").unwrap();
    let Legs::Expanded(legs) = &named.legs else {
        panic!("named has a literal matrix");
    };
    assert_eq!(
        named.leg_display_name(&legs[0], "Test on linux"),
        "Test on linux"
    );
}

#[test]
fn leg_names_keep_matrix_values_as_text() {
    let workflows = vec![load(".github/workflows/dynamic.yml", DYNAMIC)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let build = planned.jobs().find(|job| job.id == "build").unwrap();
    let legs = build
        .expand(&json!({"x": ["${{ secrets.TOKEN }}"]}))
        .unwrap();
    assert_eq!(
        build.leg_display_name(&legs[0], "build"),
        "build (${{ secrets.TOKEN }})"
    );
    assert_eq!(legs[0].index, 0);
    assert_eq!(legs[0].total, 1);
}

#[test]
fn partly_written_matrix_evaluates_strings() {
    let workflows = vec![load(".github/workflows/dynamic.yml", DYNAMIC)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let check = planned.jobs().find(|job| job.id == "check").unwrap();
    let Legs::Deferred(matrix) = &check.legs else {
        panic!("check has an expression in a matrix value");
    };
    let context = Context::new().with("github", json!({"event_name": "push"}));
    let evaluated = evaluate_matrix(matrix, "check", &context).unwrap();
    assert_eq!(evaluated, json!({"os": ["push-x", "plain"]}));
}

#[test]
fn evaluated_output_is_not_evaluated_again() {
    let workflows = vec![load(".github/workflows/dynamic.yml", DYNAMIC)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let build = planned.jobs().find(|job| job.id == "build").unwrap();
    let Legs::Deferred(matrix) = &build.legs else {
        panic!("build has an expression matrix");
    };
    // A job output controlled by the repository must stay data.
    let hostile = json!({"x": ["${{ secrets.TOKEN }}"]});
    let context = Context::new()
        .with(
            "needs",
            json!({"setup": {"outputs": {"matrix": hostile.to_string()}}}),
        )
        .with("secrets", json!({"TOKEN": "s3cret"}));
    let evaluated = evaluate_matrix(matrix, "build", &context).unwrap();
    assert_eq!(evaluated, hostile);
}

#[test]
fn matrix_expression_error_names_job() {
    let workflows = vec![load(".github/workflows/dynamic.yml", DYNAMIC)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let build = planned.jobs().find(|job| job.id == "build").unwrap();
    let Legs::Deferred(matrix) = &build.legs else {
        panic!("build has an expression matrix");
    };
    let context = Context::new().with(
        "needs",
        json!({"setup": {"outputs": {"matrix": "{not json"}}}),
    );
    let error = evaluate_matrix(matrix, "build", &context).unwrap_err();
    assert_eq!(
        error.to_string(),
        "failed to evaluate the matrix of job \"build\""
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn invalid_matrix_names_path_and_job() {
    let text = r#"
on: push
jobs:
  big:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
        b: [1]
    steps:
      - run: 'true'
"#;
    // The loader rejects a literal matrix of 272 jobs, so the axis grows to
    // 16 values after loading to reach the planner's own check.
    let mut workflow = load(".github/workflows/big.yml", text);
    let job = &mut workflow.jobs.entries[0].value;
    let Some(Matrix::Axes(axes)) = job.strategy.as_mut().and_then(|s| s.matrix.as_mut()) else {
        panic!("job \"big\" has no matrix axes");
    };
    let b = &mut axes.axes.entries[1].value;
    let MatrixValues::List(values) = b else {
        panic!("axis \"b\" is not a list");
    };
    let first = values[0].clone();
    *values = (1..=16).map(|n| Data::new(json!(n), first.pos)).collect();
    let workflows = vec![workflow];
    let error = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid matrix of job \"big\" in .github/workflows/big.yml"
    );
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert_eq!(
        source,
        "matrix expands to 272 jobs, but GitHub allows at most 256; exclude combinations or \
         split the job"
    );
}

#[test]
fn cycle_is_a_plan_error() {
    let text = r#"
on: push
jobs:
  a:
    needs: c
    runs-on: ubuntu-latest
    steps: [{run: 'true'}]
  b:
    needs: a
    runs-on: ubuntu-latest
    steps: [{run: 'true'}]
  c:
    needs: b
    runs-on: ubuntu-latest
    steps: [{run: 'true'}]
"#;
    let workflows = vec![load(".github/workflows/cycle.yml", text)];
    let error = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid job graph in .github/workflows/cycle.yml"
    );
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert_eq!(source, "jobs form a cycle: a -> c -> b -> a");
}

#[test]
fn hostile_matrix_values_make_safe_keys() {
    let text = r#"
on: push
jobs:
  x:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        dir: ['..', '../../etc', '.hidden', 'a/b']
    steps: [{run: 'true'}]
"#;
    let workflows = vec![load(".github/workflows/x.yml", text)];
    let planned = plan(&workflows, &Event::push("refs/heads/main"), &no_selection()).unwrap();
    let Legs::Expanded(legs) = &planned.workflows[0].jobs[0].legs else {
        panic!("literal matrix");
    };
    let keys: Vec<&str> = legs.iter().map(|leg| leg.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "x.yml/x/_.",
            "x.yml/x/_._.._etc",
            "x.yml/x/_hidden",
            "x.yml/x/a_b"
        ]
    );
    for key in keys {
        assert!(
            key.split('/')
                .all(|segment| segment != ".." && segment != ".")
        );
    }
}
