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
    assert_eq!(text, "os=ubuntu-latest n=20 x= b=true l=Array");
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
        Value::string(" 20 ")
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
    assert!(evaluate_condition("  ${{ false }}  ", &context()).unwrap());
    assert!(evaluate_condition("${{ false }}\n", &context()).unwrap());
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

#[test]
fn syntax_error_messages() {
    let cases = [
        ("(1", "expected ')' at column 3, found end of expression"),
        (
            "1 = 1",
            "unexpected symbol '=' at column 3 (use '==' to compare)",
        ),
        (
            "\"x\"",
            "unexpected symbol '\"x\"' at column 1 (strings use single quotes: 'text')",
        ),
        (
            "'open",
            "unterminated string starting at column 1; close it with a single quote (')",
        ),
        (
            "1 2",
            "expected an operator or the end of the expression at column 3, found number 2",
        ),
        (
            "github.",
            "expected a property name or '*' after '.' at column 8, found end of expression",
        ),
        ("foo()", "unrecognized function: 'foo' at column 1"),
        (
            "contains('a')",
            "function 'contains' takes 2 arguments, got 1 at column 1",
        ),
        (
            "success(1)",
            "function 'success' takes no arguments, got 1 at column 1",
        ),
    ];
    for (source, message) in cases {
        let error = parse(source).unwrap_err();
        assert_eq!(error.to_string(), message, "{source}");
    }
}

#[test]
fn unknown_named_value_message() {
    let error = parse("1 == foo").unwrap_err();
    assert_eq!(error.column(), Some(6));
    assert!(
        error
            .to_string()
            .starts_with("unrecognized named-value: 'foo' at column 6"),
        "{error}"
    );
}

#[test]
fn too_long_expression() {
    let source = format!("'{}'", "a".repeat(21_000));
    let error = parse(&source).unwrap_err();
    assert_eq!(
        error,
        ExprError::TooLong {
            length: 21_002,
            max: 21_000
        }
    );
    let fits = format!("'{}'", "a".repeat(20_998));
    assert!(parse(&fits).is_ok());
}

#[test]
fn too_deep_reports_column() {
    let source = format!("{}1{}", "(".repeat(60), ")".repeat(60));
    let error = parse(&source).unwrap_err();
    assert_eq!(
        error,
        ExprError::TooDeep {
            max: 50,
            column: 51
        }
    );
}

#[test]
fn format_output_limit() {
    let big = "x".repeat(100_000);
    let context = Context::new().with("env", json!({ "BIG": big }));
    let source = format!("format('{}', env.BIG)", "{0}".repeat(200));
    let error = evaluate_str(&source, &context).unwrap_err();
    assert_eq!(
        error,
        ExprError::OutputTooLarge {
            operation: "format",
            max: 10 * 1024 * 1024
        }
    );
}

#[test]
fn interpolation_output_limit() {
    let big = "x".repeat(1_000_000);
    let context = Context::new().with("env", json!({ "BIG": big }));
    let template = "${{ env.BIG }}".repeat(11);
    let error = interpolate(&template, &context).unwrap_err();
    assert_eq!(error.kind(), "output-too-large");
    let fits = "${{ env.BIG }}".repeat(10);
    assert_eq!(interpolate(&fits, &context).unwrap().len(), 10_000_000);
}

#[test]
fn join_output_limit() {
    let items: Vec<String> = (0..200).map(|_| "y".repeat(100_000)).collect();
    let context = Context::new().with("matrix", json!({ "items": items }));
    let error = evaluate_str("join(matrix.items)", &context).unwrap_err();
    assert_eq!(error.kind(), "output-too-large");
}

#[test]
fn huge_format_index() {
    let error = evaluate_str("format('{4294967296}', 1)", &Context::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "format: format string '{4294967296}' references {4294967296} but only 1 argument(s) follow it"
    );
}

#[test]
fn function_errors_name_function() {
    let error = evaluate_str("fromJSON('{')", &Context::new()).unwrap_err();
    assert!(
        error.to_string().starts_with("fromJSON: invalid JSON"),
        "{error}"
    );
    let error = evaluate_str("case('x', 1, 2)", &Context::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "case: predicate 1 is a string, but predicates must be booleans; compare it, for example with =="
    );
}

#[test]
fn named_values_listed_once() {
    let expr = parse("matrix.os == 'x' && github.ref != MATRIX.os || needs.*.result").unwrap();
    assert_eq!(expr.named_values(), vec!["matrix", "github", "needs"]);
}

#[test]
fn value_json_round_trip() {
    let json = json!({"a": [1, 2.5, "x", null, true], "B": {"c": {}}});
    let value = Value::from_json(&json);
    assert_eq!(value.to_json(), json);
    assert_eq!(
        value.get("b").and_then(|b| b.get("C")),
        Some(&Value::from(json!({})))
    );
    assert_eq!(Value::Number(f64::NAN).to_json(), json!("NaN"));
    assert_eq!(Value::Number(3.0).to_json(), json!(3));
}

#[test]
fn truthiness() {
    for falsy in [
        Value::Null,
        Value::Bool(false),
        Value::Number(0.0),
        Value::Number(-0.0),
        Value::Number(f64::NAN),
        Value::string(""),
    ] {
        assert!(!falsy.is_truthy(), "{falsy:?}");
    }
    for truthy in [
        Value::Bool(true),
        Value::Number(-1.0),
        Value::string("0"),
        Value::array(vec![]),
        Value::from(json!({})),
    ] {
        assert!(truthy.is_truthy(), "{truthy:?}");
    }
}

#[test]
fn number_formatting() {
    let cases = [
        (1.0, "1"),
        (-2.5, "-2.5"),
        (1e15, "1E+15"),
        (1e14, "100000000000000"),
        (0.00001, "1E-05"),
        (0.0001, "0.0001"),
        (1.0 / 3.0, "0.333333333333333"),
        (2.0 / 3.0, "0.666666666666667"),
        (123456.789, "123456.789"),
        (-0.0, "0"),
    ];
    for (number, text) in cases {
        assert_eq!(ci_workflow::expr::format_number(number), text, "{number}");
    }
}

#[test]
fn number_parsing() {
    use ci_workflow::expr::parse_number;
    assert_eq!(parse_number(" 12 "), 12.0);
    assert_eq!(parse_number(""), 0.0);
    assert_eq!(parse_number("0x10"), 16.0);
    assert_eq!(parse_number("0o777"), 511.0);
    assert_eq!(parse_number("-1e-2"), -0.01);
    assert!(parse_number("1_000").is_nan());
    assert!(parse_number("inf").is_nan());
    assert!(parse_number("0x").is_nan());
    assert!(parse_number("0x1ffffffff").is_nan());
}

#[test]
fn strip_delimiters_only_whole_expression() {
    use ci_workflow::expr::strip_delimiters;
    assert_eq!(strip_delimiters("${{ a }}"), " a ");
    assert_eq!(strip_delimiters("  ${{a}}  "), "a");
    assert_eq!(
        strip_delimiters("${{ a }} && ${{ b }}"),
        "${{ a }} && ${{ b }}"
    );
    assert_eq!(strip_delimiters("a == b"), "a == b");
}

#[test]
fn template_lists_expressions() {
    use ci_workflow::expr::Template;
    let template = Template::parse("a ${{ matrix.os }} b ${{ github.ref }}").unwrap();
    assert!(template.has_expressions());
    assert_eq!(template.expressions().count(), 2);
    assert!(template.single_expression().is_none());
    let plain = Template::parse("no expressions").unwrap();
    assert!(!plain.has_expressions());
}

#[test]
fn context_names_ignore_case() {
    let context = Context::new().with("GitHub", json!({"ref": "x"}));
    assert_eq!(
        context.get("github"),
        Some(&Value::from(json!({"ref": "x"})))
    );
    assert_eq!(
        evaluate_str("github.ref", &context).unwrap(),
        Value::string("x")
    );
}

#[test]
fn context_debug_hides_values() {
    let context = Context::new().with("secrets", json!({"TOKEN": "hunter2"}));
    let debug = format!("{context:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("secrets"), "{debug}");
}

#[test]
fn format_error_quotes_only_literal() {
    let context = Context::new().with("secrets", json!({"TOKEN": "hunter2{"}));
    let error = evaluate_str("format(secrets.TOKEN, 1)", &context).unwrap_err();
    assert_eq!(
        error.to_string(),
        "format: invalid format string: expected '{N}' with a number N at character 8; \
         write '{{' and '}}' for literal braces"
    );
    let error = evaluate_str("format('a{', 1)", &context).unwrap_err();
    assert_eq!(
        error.to_string(),
        "format: invalid format string 'a{': expected '{N}' with a number N at character 2; \
         write '{{' and '}}' for literal braces"
    );
}

#[test]
fn object_lookup_small_and_large() {
    use ci_workflow::expr::Object;
    for size in [1, 8, 9, 50] {
        let mut object = Object::new();
        for index in 0..size {
            object.insert(format!("Key{index}"), Value::Number(index as f64));
        }
        for index in 0..size {
            let expected = Value::Number(index as f64);
            assert_eq!(
                object.get(&format!("KEY{index}")),
                Some(&expected),
                "size {size}"
            );
            assert_eq!(
                object.get(&format!("key{index}")),
                Some(&expected),
                "size {size}"
            );
        }
        assert_eq!(object.get("missing"), None);
        let replaced = object.insert("KEY0", Value::Null);
        assert_eq!(replaced, Some(Value::Number(0.0)));
        assert_eq!(object.len(), size);
        assert_eq!(object.iter().next().map(|(key, _)| key), Some("Key0"));
    }
}

#[test]
fn format_checks_string_before_arguments() {
    let error = evaluate_str("format('{0} {', fromJSON(''))", &Context::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "format: invalid format string '{0} {': expected '{N}' with a number N at character 5; \
         write '{{' and '}}' for literal braces"
    );
}

#[test]
fn format_evaluates_each_argument_once() {
    let context = Context::new().with("matrix", json!({"x": "é"}));
    let text = evaluate_str("format('{0}{0}{1}{0}', matrix.x, 1)", &context).unwrap();
    assert_eq!(text, Value::string("éé1é"));
}
