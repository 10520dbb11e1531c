//! Property tests: filter patterns and matrix expansion never panic, and a
//! few invariants hold on arbitrary input.

use ci_workflow::glob::{Pattern, PatternList};
use ci_workflow::matrix::{MAX_COMBINATIONS, expand};
use ci_workflow::trigger::{Event, EventFilter, event_matches};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Pattern text drawn mostly from the characters that mean something.
fn pattern_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("*".to_string()),
            Just("**".to_string()),
            Just("**/".to_string()),
            Just("?".to_string()),
            Just("+".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("-".to_string()),
            Just("!".to_string()),
            Just("\\".to_string()),
            Just("/".to_string()),
            "[a-c0-2.]",
            any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::String),
        Just(Value::String("${{ x }}".to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("include".to_string()),
                        Just("exclude".to_string()),
                        "[a-cA-C]{1,2}"
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Matrices shaped like real ones, so expansion gets past validation.
fn matrix_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        "[a-d]".prop_map(Value::String),
        (0i64..4).prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
    ];
    let row = prop::collection::vec(("[a-dA-D]", scalar.clone()), 0..3)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()));
    (
        prop::collection::vec(("[a-d]", prop::collection::vec(scalar, 1..5)), 0..4),
        prop::collection::vec(row.clone(), 0..4),
        prop::collection::vec(row, 0..4),
    )
        .prop_map(|(axes, include, exclude)| {
            let mut map: Map<String, Value> = axes
                .into_iter()
                .map(|(key, values)| (key, Value::Array(values)))
                .collect();
            map.insert("include".to_string(), Value::Array(include));
            map.insert("exclude".to_string(), Value::Array(exclude));
            Value::Object(map)
        })
}

proptest! {
    #[test]
    fn glob_never_panics(pattern in pattern_text(), text in ".{0,40}") {
        if let Ok(compiled) = Pattern::new(&pattern) {
            let _ = compiled.is_match(&text);
        }
        if let Ok(list) = PatternList::new(&[pattern.as_str(), "!x*"]) {
            let _ = list.is_match(&text);
        }
    }

    #[test]
    fn escaped_text_matches_itself(text in ".{0,30}") {
        let escaped: String = text.chars().flat_map(|c| ['\\', c]).collect();
        let pattern = Pattern::new(&escaped).unwrap();
        prop_assert!(pattern.is_match(&text));
        prop_assert!(!pattern.is_negated());
    }

    #[test]
    fn only_negations_match_nothing(patterns in prop::collection::vec(pattern_text(), 1..4),
                                    text in "[a-c/]{0,10}") {
        let negated: Vec<String> = patterns.iter().map(|p| format!("!{p}")).collect();
        if let Ok(list) = PatternList::new(&negated) {
            prop_assert!(!list.is_match(&text));
        }
    }

    #[test]
    fn trigger_never_panics(branches in prop::collection::vec(pattern_text(), 0..3),
                            paths in prop::collection::vec(pattern_text(), 0..3),
                            git_ref in "(refs/(heads|tags)/)?[a-c/*]{0,8}",
                            changed in prop::collection::vec("[a-c/.]{0,8}", 0..4)) {
        let filter = EventFilter {
            branches: Some(branches),
            paths: Some(paths),
            ..EventFilter::default()
        };
        let event = Event::push(&git_ref).with_changed_paths(&changed);
        let _ = event_matches("push", &filter, &event);
    }

    #[test]
    fn matrix_never_panics_on_any_json(value in json_value()) {
        if let Ok(combinations) = expand(&value) {
            prop_assert!(combinations.len() <= MAX_COMBINATIONS);
        }
    }

    #[test]
    fn matrix_shapes_expand_within_limit(value in matrix_value()) {
        match expand(&value) {
            Ok(combinations) => prop_assert!(combinations.len() <= MAX_COMBINATIONS),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }
}
