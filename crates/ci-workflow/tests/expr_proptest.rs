//! Property tests: arbitrary text and generated expressions never make the
//! parser or the evaluator panic or overflow the stack.

use ci_workflow::expr::{
    Context, Value, check_template_syntax, evaluate, evaluate_condition, interpolate, parse,
};
use proptest::prelude::*;
use serde_json::json;

fn context() -> Context {
    Context::new()
        .with(
            "github",
            json!({"event_name": "push", "event": {"list": [1, "two", null, {"a": [true]}]}}),
        )
        .with(
            "matrix",
            json!({"os": "linux", "n": 3, "nested": {"x": {"y": "z"}}}),
        )
        .with(
            "needs",
            json!({"a": {"result": "success"}, "b": {"result": "failure"}}),
        )
}

/// Tokens that the generator joins into expression text.
fn token() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "(",
        ")",
        "[",
        "]",
        ".",
        ",",
        "*",
        "!",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "&&",
        "||",
        "null",
        "true",
        "false",
        "0",
        "-1.5",
        "0xff",
        "1e3",
        "NaN",
        "Infinity",
        "'a'",
        "''",
        "'{0}'",
        "'}}'",
        "github",
        "matrix",
        "needs",
        "os",
        "event",
        "list",
        "contains",
        "format",
        "join",
        "toJSON",
        "fromJSON",
        "startsWith",
        "endsWith",
        "case",
        "success",
        "always",
        "failure",
        "cancelled",
        "hashFiles",
        " ",
        "'[1,2]'",
        "'{\"a\":1}'",
    ])
    .prop_map(str::to_owned)
}

/// Generates a well-formed expression recursively from the grammar.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "null",
        "true",
        "false",
        "0",
        "1",
        "-2.5",
        "0xff",
        "NaN",
        "Infinity",
        "'abc'",
        "'ABC'",
        "''",
        "' 12 '",
        "github",
        "matrix",
        "needs",
        "matrix.os",
        "matrix.n",
        "github.event.list",
        "needs.*.result",
        "matrix.nested.x",
        "github.event.list.*.a",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("({e})")),
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">=", "&&", "||"])
            )
                .prop_map(|(l, r, op)| format!("{l} {op} {r}")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("{l}[{r}]")),
            inner.clone().prop_map(|e| format!("({e}).*")),
            inner.clone().prop_map(|e| format!("toJSON({e})")),
            inner.clone().prop_map(|e| format!("fromJSON(toJSON({e}))")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("contains({l}, {r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("startsWith({l}, {r})")),
            (inner.clone(), inner.clone())
                .prop_map(|(l, r)| format!("format('{{0}}-{{1}}', {l}, {r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("join({l}, {r})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("case({a} == {b}, {b}, {c})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let context = context();
        if let Ok(expr) = parse(&text) {
            let _ = evaluate(&expr, &context);
        }
        let _ = check_template_syntax(&text);
        let _ = interpolate(&text, &context);
        let _ = evaluate_condition(&text, &context);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(token(), 0..40)) {
        let text = tokens.join("");
        let context = context();
        if let Ok(expr) = parse(&text) {
            let _ = evaluate(&expr, &context);
        }
        let _ = interpolate(&format!("x ${{{{ {text} }}}} y"), &context);
        let _ = evaluate_condition(&text, &context);
    }

    #[test]
    fn generated_expressions_parse_and_evaluate(text in expression()) {
        let expr = parse(&text).map_err(|error| TestCaseError::fail(format!("{text}: {error}")))?;
        let context = context();
        let first = evaluate(&expr, &context);
        let second = evaluate(&expr, &context);
        // Evaluation is deterministic, apart from array and object identity.
        prop_assert_eq!(first.is_ok(), second.is_ok());
        if let (Ok(a), Ok(b)) = (&first, &second) {
            prop_assert_eq!(a.to_json_pretty(), b.to_json_pretty());
        }
    }

    #[test]
    fn string_literals_round_trip(text in "[^\u{0}]{0,40}") {
        let literal = format!("'{}'", text.replace('\'', "''"));
        let value = evaluate(&parse(&literal).unwrap(), &Context::new()).unwrap();
        prop_assert_eq!(value, Value::String(text));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(depth in 51usize..3000, kind in 0usize..4) {
        let text = match kind {
            0 => format!("{}1{}", "(".repeat(depth), ")".repeat(depth)),
            1 => format!("{}true", "!".repeat(depth)),
            2 => format!("github{}", ".a".repeat(depth)),
            _ => vec!["1"; depth + 1].join(" == "),
        };
        let error = parse(&text).unwrap_err();
        prop_assert_eq!(error.kind(), "too-deep");
    }
}
