//! Property tests of result signatures: any JSON content survives a round
//! trip through a file, and any change to it is detected.

use ci_core::Keys;
use ci_core::signing::{VerifyError, npub_of, sign_value, verify_value};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn keys() -> Keys {
    Keys::parse("0000000000000000000000000000000000000000000000000000000000000003").unwrap()
}

/// Arbitrary JSON: any Unicode strings, integers over the whole i64 range,
/// finite floats, and nested arrays and objects.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn signed(payload: &Value) -> Value {
    let mut document = json!({ "runner_npub": npub_of(&keys()), "payload": payload });
    sign_value(&mut document, &keys()).unwrap();
    document
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn signed_content_survives_file_round_trip(payload in json_value()) {
        let document = signed(&payload);
        let pretty = serde_json::to_string_pretty(&document).unwrap();
        let compact = serde_json::to_string(&document).unwrap();
        let from_pretty: Value = serde_json::from_str(&pretty).unwrap();
        let from_compact: Value = serde_json::from_str(&compact).unwrap();
        prop_assert_eq!(verify_value(&from_pretty), Ok(()));
        prop_assert_eq!(verify_value(&from_compact), Ok(()));
    }

    #[test]
    fn changed_content_fails(payload in json_value(), replacement in json_value()) {
        let mut document = signed(&payload);
        let original_bytes = ci_core::signing::canonical_bytes(&document).unwrap();
        document["payload"] = replacement;
        let changed_bytes = ci_core::signing::canonical_bytes(&document).unwrap();
        // Values such as 1 and 1.0 are the same JSON number, so only a change
        // of the canonical form must be detected.
        prop_assume!(original_bytes != changed_bytes);
        let is_mismatch = matches!(verify_value(&document), Err(VerifyError::Mismatch { .. }));
        prop_assert!(is_mismatch);
    }
}
