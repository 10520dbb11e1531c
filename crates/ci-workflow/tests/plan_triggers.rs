//! Trigger matching on loaded workflow files.

use ci_workflow::load::load_workflow_str;
use ci_workflow::model::Workflow;
use ci_workflow::plan::{PlanError, Selection, plan};
use ci_workflow::trigger::{Event, on_matches};

fn load(text: &str) -> Workflow {
    match load_workflow_str(".github/workflows/t.yml", text) {
        Ok(loaded) => loaded.workflow,
        Err(error) => panic!("workflow failed to load: {:?}", error.diagnostics()),
    }
}

const STEPS: &str = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n";

fn workflow(on: &str) -> Workflow {
    load(&format!("{on}\n{STEPS}"))
}

#[test]
fn shorthand_event_list() {
    let workflow = workflow("on: [push, pull_request]");
    assert_eq!(
        on_matches(&workflow.on, &Event::push("refs/tags/v1")),
        Ok(true)
    );
    let opened = Event::pull_request("main", "opened");
    assert_eq!(on_matches(&workflow.on, &opened), Ok(true));
    let closed = Event::pull_request("main", "closed");
    assert_eq!(on_matches(&workflow.on, &closed), Ok(false));
    let dispatch = Event {
        name: "workflow_dispatch".to_string(),
        ..Event::default()
    };
    assert_eq!(on_matches(&workflow.on, &dispatch), Ok(false));
}

#[test]
fn paths_filter_from_yaml() {
    let workflow = workflow("on:\n  push:\n    paths:\n      - 'src/**'\n      - '!src/**/*.md'");
    let code = Event::push("refs/heads/main").with_changed_paths(&["src/a/lib.rs"]);
    let docs = Event::push("refs/heads/main").with_changed_paths(&["src/a/README.md"]);
    assert_eq!(on_matches(&workflow.on, &code), Ok(true));
    assert_eq!(on_matches(&workflow.on, &docs), Ok(false));
}

#[test]
fn types_filter_from_yaml() {
    let workflow = workflow("on:\n  pull_request:\n    types: [labeled]\n    branches: [main]");
    let labeled = Event::pull_request("main", "labeled");
    assert_eq!(on_matches(&workflow.on, &labeled), Ok(true));
    let opened = Event::pull_request("main", "opened");
    assert_eq!(on_matches(&workflow.on, &opened), Ok(false));
    let other_base = Event::pull_request("dev", "labeled");
    assert_eq!(on_matches(&workflow.on, &other_base), Ok(false));
}

#[test]
fn invalid_pattern_fails_the_plan() {
    // The loader may reject such a pattern itself. The planner must report
    // it too, for workflows built by other means.
    let mut workflow = workflow("on:\n  push:\n    branches: [main]");
    workflow.on.triggers[0].filter.branches = Some(vec!["v[0-9".to_string()]);
    let error = plan(
        &[workflow],
        &Event::push("refs/heads/main"),
        &Selection::default(),
    )
    .unwrap_err();
    assert!(matches!(error, PlanError::Trigger { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "invalid trigger in .github/workflows/t.yml"
    );
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(
        source.starts_with("on.push.branches[0] is invalid"),
        "{source}"
    );
}
