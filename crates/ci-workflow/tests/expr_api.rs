//! Tests of the public expression API: parse, evaluate, interpolate,
//! conditions and error columns.

use ci_workflow::expr::{
    Condition, Context, ExprError, JobStatus, StatusInputs, Value, check_template_syntax,
    contains_status_function, evaluate, evaluate_condition, evaluate_str, evaluate_template,
    interpolate, parse,
};
use serde_json::json;

fn context() -> Context {
    Context::new()
        .with(
            "github",
            json!({
                "event_name": "push",
                "ref": "refs/heads/main",
                "event": {"commits": [{"id": "a1", "author": {"name": "Mona"}}, {"id": "b2", "author": {"name": "Hubot"}}]}
            }),
        )
        .with("matrix", json!({"os": "ubuntu-latest", "node": 20, "list": [1, 2, 3]}))
        .with(
            "needs",
            json!({"build": {"result": "success", "outputs": {"v": "1"}}, "test": {"result": "failure"}}),
        )
        .with("env", json!({"NAME": "value"}))
}

fn eval(source: &str) -> Value {
    evaluate_str(source, &context()).unwrap_or_else(|error| panic!("{source}: {error}"))
}

#[test]
fn parse_once_evaluate_twice() {
    let expr = parse("matrix.node >= 18").unwrap();
    assert_eq!(evaluate(&expr, &context()).unwrap(), Value::Bool(true));
    let other = Context::new().with("matrix", json!({"node": 16}));
    assert_eq!(evaluate(&expr, &other).unwrap(), Value::Bool(false));
}

#[test]
fn property_access_ignores_case() {
    assert_eq!(eval("GitHub.Event_Name"), Value::string("push"));
    assert_eq!(eval("github['EVENT_NAME']"), Value::string("push"));
    assert_eq!(eval("ENV.name"), Value::string("value"));
}

#[test]
fn missing_property_is_null() {
    assert_eq!(eval("github.nothing.deeper"), Value::Null);
    assert_eq!(eval("matrix.list[7]"), Value::Null);
    assert_eq!(eval("steps"), Value::Null);
}

#[test]
fn filter_over_array_of_objects() {
    assert_eq!(
        eval("github.event.commits.*.author.name"),
        Value::from(json!(["Mona", "Hubot"]))
    );
    assert_eq!(
        eval("needs.*.result"),
        Value::from(json!(["success", "failure"]))
    );
    assert_eq!(
        eval("contains(needs.*.result, 'failure')"),
        Value::Bool(true)
    );
}

#[test]
fn strip_delimiters_in_evaluate_str() {
    assert_eq!(eval("${{ matrix.node }}"), Value::Number(20.0));
    assert_eq!(eval("  ${{ 'a}}b' }}  "), Value::string("a}}b"));
}

#[test]
fn interpolate_converts_values() {
    let text = interpolate(
        "os=${{ matrix.os }} n=${{ matrix.node }} x=${{ null }} b=${{ true }} l=${{ matrix.list }}",
        &context(),
    )
    .unwrap();
    assert_eq!(
        text,
        "os=ubuntu-latest n=20 x= b=true l=[\n  1,\n  2,\n  3\n]"
    );
}

#[test]
fn interpolate_closing_braces_in_string() {
    assert_eq!(interpolate("${{ '}}' }}!", &context()).unwrap(), "}}!");
    assert_eq!(
        interpolate("${{ format('{{0}}') }}", &context()).unwrap(),
        "{0}"
    );
}

#[test]
fn evaluate_template_keeps_type() {
    assert_eq!(
        evaluate_template("${{ matrix.node }}", &context()).unwrap(),
        Value::Number(20.0)
    );
    assert_eq!(
        evaluate_template(" ${{ matrix.node }} ", &context()).unwrap(),
        Value::Number(20.0)
    );
    assert_eq!(
        evaluate_template("v${{ matrix.node }}", &context()).unwrap(),
        Value::string("v20")
    );
    assert_eq!(
        evaluate_template("plain", &context()).unwrap(),
        Value::string("plain")
    );
}

#[test]
fn template_syntax_error_column() {
    let error = check_template_syntax("run ${{ (1 }}").unwrap_err();
    assert_eq!(error.column(), Some(12));
    assert_eq!(
        error.to_string(),
        "expected ')' at column 12, found end of expression"
    );
    let error = check_template_syntax("a ${{ 1").unwrap_err();
    assert_eq!(error, ExprError::UnclosedTemplate { column: 3 });
}

#[test]
fn condition_implicit_success() {
    let failed = context().with_status(StatusInputs::step(JobStatus::Failure, false));
    assert!(evaluate_condition("true", &context()).unwrap());
    assert!(!evaluate_condition("true", &failed).unwrap());
    assert!(evaluate_condition("always()", &failed).unwrap());
    assert!(evaluate_condition("failure()", &failed).unwrap());
    assert!(!evaluate_condition("'always()'", &failed).unwrap());
    assert!(evaluate_condition("", &context()).unwrap());
    assert!(!evaluate_condition("", &failed).unwrap());
}

#[test]
fn condition_with_text_outside_is_string() {
    assert!(evaluate_condition("${{ false }} && x", &context()).unwrap());
    assert!(!evaluate_condition("${{ false }}", &context()).unwrap());
    assert!(!evaluate_condition("  ${{ false }}  ", &context()).unwrap());
    assert!(!evaluate_condition("github.event_name == 'pull_request'", &context()).unwrap());
}

#[test]
fn condition_job_scope() {
    let inputs = StatusInputs::job([JobStatus::Success, JobStatus::Failure], false);
    let job = context().with_status(inputs);
    assert!(!evaluate_condition("true", &job).unwrap());
    assert!(evaluate_condition("failure()", &job).unwrap());
    let cancelled = context().with_status(StatusInputs::job([JobStatus::Success], true));
    assert!(evaluate_condition("cancelled()", &cancelled).unwrap());
    assert!(!evaluate_condition("success()", &cancelled).unwrap());
}

#[test]
fn condition_parse_reuse() {
    let condition = Condition::parse("matrix.os == 'ubuntu-latest'").unwrap();
    assert!(condition.needs_success());
    assert!(condition.evaluate(&context()).unwrap());
    let other = Context::new().with("matrix", json!({"os": "windows"}));
    assert!(!condition.evaluate(&other).unwrap());
}

#[test]
fn status_function_detection() {
    assert!(contains_status_function(
        &parse("!cancelled() && matrix.x == 1").unwrap()
    ));
    assert!(contains_status_function(&parse("ALWAYS()").unwrap()));
    assert!(!contains_status_function(
        &parse("'success()' == 'x'").unwrap()
    ));
}

#[test]
fn condition_error_column_counts_leading_space() {
    let error = evaluate_condition("  (1", &context()).unwrap_err();
    assert_eq!(error.column(), Some(5));
}
