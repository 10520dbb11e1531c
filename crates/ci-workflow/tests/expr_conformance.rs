//! Runs the table of expression cases in `data/expr_conformance.json` and
//! reports every failing case at once.

use ci_workflow::expr::{
    Condition, Context, ExprError, JobStatus, StatusInputs, Value, evaluate_str, interpolate,
};
use serde_json::{Map, Value as Json};

const TABLE: &str = include_str!("data/expr_conformance.json");

/// The minimum number of cases the table must hold, so that a truncated
/// file cannot pass quietly.
const MIN_CASES: usize = 300;

fn context_for(defaults: &Map<String, Json>, case: &Map<String, Json>) -> Context {
    let mut context = Context::new();
    for (name, value) in defaults {
        context.set(name, value.clone());
    }
    if let Some(Json::Object(overrides)) = case.get("contexts") {
        for (name, value) in overrides {
            context.set(name, value.clone());
        }
    }
    if let Some(status) = case.get("status") {
        context.set_status(status_inputs(status));
    }
    context
}

fn status_inputs(status: &Json) -> StatusInputs {
    let cancelled = status["cancelled"].as_bool().unwrap_or(false);
    let parse =
        |text: &Json| JobStatus::parse(text.as_str().expect("status text")).expect("known status");
    match status["scope"].as_str() {
        Some("job") => {
            let results = status["dependencies"]
                .as_array()
                .expect("dependencies list");
            StatusInputs::job(results.iter().map(parse), cancelled)
        }
        _ => StatusInputs::step(parse(&status["job_status"]), cancelled),
    }
}

/// Compares values exactly, numbers included.
fn same_value(actual: &Value, expected: &Json) -> bool {
    *actual == Value::from_json(expected)
}

fn check_number(actual: &Value, special: &str) -> bool {
    let Value::Number(number) = actual else {
        return false;
    };
    match special {
        "NaN" => number.is_nan(),
        "Infinity" => *number == f64::INFINITY,
        "-Infinity" => *number == f64::NEG_INFINITY,
        other => panic!("unknown special number {other}"),
    }
}

fn describe<T: std::fmt::Debug>(result: &Result<T, ExprError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(error) => format!("error {} ({error})", error.kind()),
    }
}

/// Runs one case and returns a description of the mismatch, if any.
fn run_case(defaults: &Map<String, Json>, case: &Map<String, Json>) -> Option<String> {
    let context = context_for(defaults, case);
    let expected_error = case.get("error").and_then(Json::as_str);

    if let Some(Json::String(source)) = case.get("expr") {
        let result = evaluate_str(source, &context);
        let ok = match (&result, expected_error) {
            (Err(error), Some(kind)) => error.kind() == kind,
            (Ok(value), None) => match (case.get("result"), case.get("number")) {
                (Some(expected), _) => same_value(value, expected),
                (None, Some(Json::String(special))) => check_number(value, special),
                _ => panic!("case without an expected value: {case:?}"),
            },
            _ => false,
        };
        return (!ok).then(|| {
            format!(
                "expr {source:?}: got {}, expected {case:?}",
                describe(&result)
            )
        });
    }

    if let Some(Json::String(template)) = case.get("template") {
        let result = interpolate(template, &context);
        let ok = match (&result, expected_error) {
            (Err(error), Some(kind)) => error.kind() == kind,
            (Ok(text), None) => Some(text.as_str()) == case["text"].as_str(),
            _ => false,
        };
        return (!ok).then(|| {
            format!(
                "template {template:?}: got {}, expected {case:?}",
                describe(&result)
            )
        });
    }

    if let Some(Json::String(condition)) = case.get("condition") {
        let result = Condition::parse(condition).and_then(|parsed| parsed.evaluate(&context));
        let ok = match (&result, expected_error) {
            (Err(error), Some(kind)) => error.kind() == kind,
            (Ok(value), None) => Some(*value) == case["result"].as_bool(),
            _ => false,
        };
        return (!ok).then(|| {
            format!(
                "condition {condition:?}: got {}, expected {case:?}",
                describe(&result)
            )
        });
    }

    panic!("case has no expr, template or condition: {case:?}");
}

#[test]
fn conformance_table() {
    let table: Json = serde_json::from_str(TABLE).expect("the table is valid JSON");
    let defaults = table["contexts"].as_object().expect("default contexts");
    let cases = table["cases"].as_array().expect("cases list");
    assert!(cases.len() >= MIN_CASES, "only {} cases", cases.len());

    let failures: Vec<String> = cases
        .iter()
        .map(|case| case.as_object().expect("case object"))
        .filter_map(|case| run_case(defaults, case))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
