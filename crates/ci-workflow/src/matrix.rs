//! Matrix expansion: one job definition, many job runs.
//!
//! `strategy.matrix` maps keys to lists of values, plus two optional lists
//! of objects, `exclude` and `include`. GitHub expands it in this order:
//!
//! 1. The cartesian product of the lists, in key order: the first key
//!    varies slowest, so `{os: [a, b], v: [1, 2]}` gives `a1 a2 b1 b2`.
//! 2. `exclude` removes every combination that an entry partially matches,
//!    meaning all keys of the entry have equal values in the combination.
//! 3. Each `include` entry is merged into every original combination where
//!    it overwrites none of the original matrix values. Keys added by an
//!    earlier `include` may be overwritten. An entry that fits no original
//!    combination becomes a new combination. A matrix with only `include`
//!    therefore runs one job per entry.
//!
//! Keys are case-insensitive (`OS` and `os` are the same variable), and a
//! matrix may produce at most 256 jobs. Values are JSON, compared deeply,
//! with numbers compared by value (`12` equals `12.0`).
//!
//! Source: "Running variations of jobs in a workflow" and
//! `jobs.<job_id>.strategy.matrix` in GitHub's workflow syntax reference.
//!
//! A matrix written with expressions (`${{ fromJSON(needs.setup.outputs.m)
//! }}`) can only expand once its inputs are known. [`contains_expression`]
//! detects this case, and the caller evaluates the matrix later and then
//! calls [`expand`] on the resulting JSON.

use serde_json::{Map, Value};

/// One matrix combination: key to value, in matrix key order.
pub type Combination = Map<String, Value>;

/// Maximum number of jobs one matrix may produce, as GitHub documents.
pub const MAX_COMBINATIONS: usize = 256;

/// Maximum size of the cartesian product before `exclude` is applied.
// NOTE: GitHub documents only the limit on the result. This bound keeps a
// hostile matrix (ten keys of ten values) from enumerating 10^10
// combinations, and still leaves room for large products that `exclude`
// trims below 256.
pub const MAX_CARTESIAN_PRODUCT: usize = 65_536;

/// Errors from expanding a matrix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    #[error("strategy.matrix must be a mapping of keys to lists, found {found}")]
    NotAMapping { found: &'static str },

    #[error(
        "strategy.matrix defines no keys and no include entries; add a key with a list of \
         values or remove the matrix"
    )]
    NoVectors,

    #[error("matrix key `{key}` must be a list of values, found {found}")]
    NotAList { key: String, found: &'static str },

    #[error("matrix key `{key}` has an empty list; give it at least one value or remove it")]
    EmptyVector { key: String },

    #[error(
        "matrix keys `{first}` and `{second}` differ only in case, and GitHub treats matrix keys \
         case-insensitively; rename one of them"
    )]
    DuplicateKey { first: String, second: String },

    #[error("matrix {list} must be a list of mappings, found {found}")]
    InvalidList {
        list: &'static str,
        found: &'static str,
    },

    #[error("matrix {list}[{index}] must be a mapping of keys to values, found {found}")]
    InvalidEntry {
        list: &'static str,
        index: usize,
        found: &'static str,
    },

    #[error(
        "matrix exclude[{index}] uses key `{key}`, which is not a matrix key (matrix keys: \
         {known}); exclude applies before include, so it can only name keys defined in the matrix"
    )]
    UnknownExcludeKey {
        index: usize,
        key: String,
        known: String,
    },

    #[error(
        "matrix has {count} combinations before exclude, more than the {MAX_CARTESIAN_PRODUCT} \
         this runner expands; split the job or shorten the lists"
    )]
    ProductTooLarge { count: String },

    #[error(
        "matrix expands to {count} jobs, but GitHub allows at most {MAX_COMBINATIONS}; exclude \
         combinations or split the job"
    )]
    TooManyCombinations { count: usize },

    #[error(
        "matrix has no combinations left after exclude; remove an exclude entry or add an \
         include entry"
    )]
    EmptyAfterExclude,
}

/// Returns the JSON type name of `value`, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Expands a matrix into its combinations, in GitHub's order.
pub fn expand(matrix: &Value) -> Result<Vec<Combination>, MatrixError> {
    let Value::Object(definition) = matrix else {
        return Err(MatrixError::NotAMapping {
            found: type_name(matrix),
        });
    };
    let parts = Parts::parse(definition)?;
    if parts.vectors.is_empty() && parts.includes.is_empty() {
        return Err(MatrixError::NoVectors);
    }

    let mut combinations = parts.product_without_excluded()?;
    if !parts.vectors.is_empty() && combinations.is_empty() && parts.includes.is_empty() {
        return Err(MatrixError::EmptyAfterExclude);
    }

    let original_count = combinations.len();
    for entry in &parts.includes {
        apply_include(&mut combinations, original_count, &parts.vectors, entry);
    }
    if combinations.len() > MAX_COMBINATIONS {
        return Err(MatrixError::TooManyCombinations {
            count: combinations.len(),
        });
    }
    Ok(combinations)
}

/// A matrix definition split into its vectors and entry lists.
struct Parts<'a> {
    vectors: Vec<(&'a String, &'a Vec<Value>)>,
    excludes: Vec<&'a Map<String, Value>>,
    includes: Vec<&'a Map<String, Value>>,
}

impl<'a> Parts<'a> {
    fn parse(definition: &'a Map<String, Value>) -> Result<Self, MatrixError> {
        let mut vectors: Vec<(&String, &Vec<Value>)> = Vec::new();
        let mut excludes = Vec::new();
        let mut includes = Vec::new();
        for (key, value) in definition {
            if key == "include" {
                includes = entry_list("include", value)?;
                continue;
            }
            if key == "exclude" {
                excludes = entry_list("exclude", value)?;
                continue;
            }
            let Value::Array(values) = value else {
                return Err(MatrixError::NotAList {
                    key: key.clone(),
                    found: type_name(value),
                });
            };
            if values.is_empty() {
                return Err(MatrixError::EmptyVector { key: key.clone() });
            }
            if let Some((first, _)) = vectors.iter().find(|(seen, _)| same_key(seen, key)) {
                return Err(MatrixError::DuplicateKey {
                    first: (*first).clone(),
                    second: key.clone(),
                });
            }
            vectors.push((key, values));
        }

        let parts = Self {
            vectors,
            excludes,
            includes,
        };
        parts.check_exclude_keys()?;
        Ok(parts)
    }

    fn check_exclude_keys(&self) -> Result<(), MatrixError> {
        for (index, entry) in self.excludes.iter().enumerate() {
            let unknown = entry
                .keys()
                .find(|key| !self.vectors.iter().any(|(name, _)| same_key(name, key)));
            if let Some(key) = unknown {
                let known: Vec<&str> = self.vectors.iter().map(|(name, _)| name.as_str()).collect();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                return Err(MatrixError::UnknownExcludeKey {
                    index,
                    key: key.clone(),
                    known,
                });
            }
        }
        Ok(())
    }

    /// Builds the cartesian product, dropping excluded combinations.
    fn product_without_excluded(&self) -> Result<Vec<Combination>, MatrixError> {
        if self.vectors.is_empty() {
            return Ok(Vec::new());
        }
        let mut product: usize = 1;
        for (_, values) in &self.vectors {
            product = product.saturating_mul(values.len());
        }
        if product > MAX_CARTESIAN_PRODUCT {
            let exact: u128 = self.vectors.iter().map(|(_, v)| v.len() as u128).product();
            return Err(MatrixError::ProductTooLarge {
                count: exact.to_string(),
            });
        }

        let mut combinations = Vec::new();
        let mut indices = vec![0usize; self.vectors.len()];
        for _ in 0..product {
            let combination: Combination = self
                .vectors
                .iter()
                .zip(&indices)
                .map(|((key, values), &index)| ((*key).clone(), values[index].clone()))
                .collect();
            if !self
                .excludes
                .iter()
                .any(|entry| excludes(entry, &combination))
            {
                combinations.push(combination);
            }
            advance(&mut indices, &self.vectors);
        }
        Ok(combinations)
    }
}

/// Steps the index odometer: the last key varies fastest.
fn advance(indices: &mut [usize], vectors: &[(&String, &Vec<Value>)]) {
    for position in (0..indices.len()).rev() {
        indices[position] += 1;
        if indices[position] < vectors[position].1.len() {
            return;
        }
        indices[position] = 0;
    }
}

fn entry_list<'a>(
    list: &'static str,
    value: &'a Value,
) -> Result<Vec<&'a Map<String, Value>>, MatrixError> {
    let Value::Array(entries) = value else {
        return Err(MatrixError::InvalidList {
            list,
            found: type_name(value),
        });
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| match entry {
            Value::Object(map) => Ok(map),
            other => Err(MatrixError::InvalidEntry {
                list,
                index,
                found: type_name(other),
            }),
        })
        .collect()
}

fn same_key(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Finds the key in `combination` equal to `key` ignoring case.
fn find_key<'a>(combination: &'a Combination, key: &str) -> Option<&'a String> {
    combination.keys().find(|existing| same_key(existing, key))
}

/// Tests whether exclude `entry` removes `combination`: every key of the
/// entry must match.
fn excludes(entry: &Map<String, Value>, combination: &Combination) -> bool {
    entry.iter().all(|(key, expected)| {
        find_key(combination, key)
            .and_then(|existing| combination.get(existing))
            .is_some_and(|actual| exclude_value_matches(expected, actual))
    })
}

/// Compares an exclude value with a matrix value. Mappings match when every
/// key of the exclude mapping matches, so `{os: macos}` excludes
/// `{os: macos, cc: clang}`.
// NOTE: GitHub's documentation describes partial matching only for the
// entry's top-level keys. The nested partial match follows public reports
// of GitHub's behaviour, not the documentation.
fn exclude_value_matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => expected.iter().all(|(key, value)| {
            actual
                .get(key)
                .is_some_and(|actual| exclude_value_matches(value, actual))
        }),
        _ => values_equal(expected, actual),
    }
}

/// Compares two JSON values deeply, numbers by value.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, value)| y.get(key).is_some_and(|other| values_equal(value, other)))
        }
        _ => a == b,
    }
}

/// Merges one include entry into every original combination it fits, or
/// appends it as a new combination when it fits none.
fn apply_include(
    combinations: &mut Vec<Combination>,
    original_count: usize,
    vectors: &[(&String, &Vec<Value>)],
    entry: &Map<String, Value>,
) {
    let mut merged = false;
    for combination in combinations.iter_mut().take(original_count) {
        if !include_fits(entry, combination, vectors) {
            continue;
        }
        for (key, value) in entry {
            let existing = find_key(combination, key).cloned();
            combination.insert(existing.unwrap_or_else(|| key.clone()), value.clone());
        }
        merged = true;
    }
    if !merged {
        combinations.push(entry.clone());
    }
}

/// Tests whether `entry` leaves every original matrix value unchanged.
fn include_fits(
    entry: &Map<String, Value>,
    combination: &Combination,
    vectors: &[(&String, &Vec<Value>)],
) -> bool {
    entry.iter().all(|(key, value)| {
        let is_original = vectors.iter().any(|(name, _)| same_key(name, key));
        if !is_original {
            return true;
        }
        find_key(combination, key)
            .and_then(|existing| combination.get(existing))
            .is_some_and(|current| values_equal(current, value))
    })
}

/// Tests whether any string inside `value` contains a `${{` expression.
pub fn contains_expression(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains("${{"),
        Value::Array(items) => items.iter().any(contains_expression),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains("${{") || contains_expression(value)),
        _ => false,
    }
}

/// Renders the values of a combination for a job's display name, in key
/// order and separated by `, `. Mappings and lists contribute their leaf
/// values in order.
// NOTE: the flattening of mapping and list values follows how GitHub's
// web UI names such jobs; GitHub does not document the format.
pub fn display_values(combination: &Combination) -> String {
    let mut parts = Vec::new();
    for value in combination.values() {
        collect_leaves(value, &mut parts);
    }
    parts.join(", ")
}

fn collect_leaves(value: &Value, parts: &mut Vec<String>) {
    match value {
        Value::String(text) => parts.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_leaves(item, parts)),
        Value::Object(map) => map.values().for_each(|item| collect_leaves(item, parts)),
        Value::Null => parts.push(String::new()),
        other => parts.push(other.to_string()),
    }
}

/// Tests whether a job name uses the `matrix` context inside `${{ }}`.
/// GitHub adds no value suffix to such names.
pub fn name_uses_matrix(name: &str) -> bool {
    let mut rest = name;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let end = after.find("}}").unwrap_or(after.len());
        if mentions_identifier(&after[..end], "matrix") {
            return true;
        }
        rest = &after[end..];
    }
    false
}

/// Tests whether `word` occurs in `text` as a whole identifier.
fn mentions_identifier(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(|c| is_ident(c) || c == '.') && !after.is_some_and(is_ident)
    })
}

/// Builds the display name of one job run: `build (ubuntu, 1.8)` for a
/// combination, the plain name without one. Names that use the `matrix`
/// context get no suffix because the caller evaluates them per run.
pub fn display_name(name: &str, combination: Option<&Combination>) -> String {
    match combination {
        Some(combination) if !combination.is_empty() && !name_uses_matrix(name) => {
            format!("{name} ({})", display_values(combination))
        }
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn expand_ok(matrix: Value) -> Vec<Value> {
        expand(&matrix)
            .unwrap()
            .into_iter()
            .map(Value::Object)
            .collect()
    }

    #[test]
    fn product_in_key_order() {
        let legs = expand_ok(json!({"os": ["ubuntu", "macos"], "rust": ["1.80", "stable"]}));
        assert_eq!(
            legs,
            vec![
                json!({"os": "ubuntu", "rust": "1.80"}),
                json!({"os": "ubuntu", "rust": "stable"}),
                json!({"os": "macos", "rust": "1.80"}),
                json!({"os": "macos", "rust": "stable"}),
            ]
        );
    }

    #[test]
    fn documented_include_example() {
        let legs = expand_ok(json!({
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"},
            ]
        }));
        assert_eq!(legs.len(), 6);
        assert_eq!(
            legs[0],
            json!({"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"})
        );
        assert_eq!(
            legs[1],
            json!({"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"})
        );
        assert_eq!(
            legs[2],
            json!({"fruit": "pear", "animal": "cat", "color": "pink"})
        );
        assert_eq!(
            legs[3],
            json!({"fruit": "pear", "animal": "dog", "color": "green"})
        );
        assert_eq!(legs[4], json!({"fruit": "banana"}));
        assert_eq!(legs[5], json!({"fruit": "banana", "animal": "cat"}));
    }

    #[test]
    fn documented_include_keeps_key_order() {
        let legs = expand(&json!({
            "fruit": ["apple"],
            "animal": ["cat"],
            "include": [{"color": "green"}, {"shape": "circle", "fruit": "apple"}]
        }))
        .unwrap();
        let keys: Vec<&str> = legs[0].keys().map(String::as_str).collect();
        assert_eq!(keys, ["fruit", "animal", "color", "shape"]);
    }

    #[test]
    fn documented_exclude_example() {
        let legs = expand_ok(json!({
            "os": ["macos-latest", "windows-latest"],
            "version": [12, 14, 16],
            "environment": ["staging", "production"],
            "exclude": [
                {"os": "macos-latest", "version": 12, "environment": "production"},
                {"os": "windows-latest", "version": 16},
            ]
        }));
        assert_eq!(legs.len(), 9);
        assert!(
            !legs.contains(
                &json!({"os": "macos-latest", "version": 12, "environment": "production"})
            )
        );
        assert!(
            !legs.contains(
                &json!({"os": "windows-latest", "version": 16, "environment": "staging"})
            )
        );
        assert!(
            legs.contains(&json!({"os": "macos-latest", "version": 12, "environment": "staging"}))
        );
    }

    #[test]
    fn documented_perl_example() {
        let legs = expand_ok(json!({
            "os": ["ubuntu-latest"],
            "perl": ["5.16", "5.20", "5.26", "5.30", "latest"],
            "include": [
                {"os": "macos-latest", "perl": "5.26"},
                {"os": "macos-latest", "perl": "latest"},
            ]
        }));
        assert_eq!(legs.len(), 7);
        assert_eq!(legs[5], json!({"os": "macos-latest", "perl": "5.26"}));
        assert_eq!(legs[6], json!({"os": "macos-latest", "perl": "latest"}));
    }

    #[test]
    fn documented_include_adds_variable() {
        let legs = expand_ok(json!({
            "os": ["windows-latest", "ubuntu-latest"],
            "node": [12, 14, 16],
            "include": [{"os": "windows-latest", "node": 16, "npm": 6}]
        }));
        assert_eq!(legs.len(), 6);
        assert_eq!(
            legs[2],
            json!({"os": "windows-latest", "node": 16, "npm": 6})
        );
        assert_eq!(legs[3], json!({"os": "ubuntu-latest", "node": 12}));
    }

    #[test]
    fn documented_include_only() {
        let legs = expand_ok(json!({
            "include": [
                {"site": "production", "datacenter": "site-a"},
                {"site": "staging", "datacenter": "site-b"},
            ]
        }));
        assert_eq!(
            legs,
            vec![
                json!({"site": "production", "datacenter": "site-a"}),
                json!({"site": "staging", "datacenter": "site-b"}),
            ]
        );
    }

    #[test]
    fn include_adds_back_excluded() {
        let legs = expand_ok(json!({
            "os": ["a", "b"],
            "exclude": [{"os": "b"}],
            "include": [{"os": "b", "extra": true}]
        }));
        assert_eq!(
            legs,
            vec![json!({"os": "a"}), json!({"os": "b", "extra": true})]
        );
    }

    #[test]
    fn exclude_compares_objects_deeply() {
        let legs = expand_ok(json!({
            "shared": [true, false],
            "img": [
                {"os": "ubuntu-latest", "fc": "gfortran"},
                {"os": "macos-latest", "fc": "gfortran-13"}
            ],
            "exclude": [{"shared": true, "img": {"os": "macos-latest"}}]
        }));
        assert_eq!(legs.len(), 3);
        assert!(!legs.contains(
            &json!({"shared": true, "img": {"os": "macos-latest", "fc": "gfortran-13"}})
        ));
    }

    #[test]
    fn numbers_compare_by_value() {
        let legs = expand_ok(json!({"v": [12, 14], "exclude": [{"v": 12.0}]}));
        assert_eq!(legs, vec![json!({"v": 14})]);
    }

    #[test]
    fn keys_are_case_insensitive() {
        let legs = expand_ok(json!({
            "os": ["a", "b"],
            "exclude": [{"OS": "a"}],
            "include": [{"Os": "b", "extra": 1}]
        }));
        assert_eq!(legs, vec![json!({"os": "b", "extra": 1})]);

        let error = expand(&json!({"os": ["a"], "OS": ["b"]})).unwrap_err();
        assert_eq!(
            error,
            MatrixError::DuplicateKey {
                first: "os".to_string(),
                second: "OS".to_string()
            }
        );
    }

    #[test]
    fn limit_of_256_jobs() {
        let values: Vec<u32> = (0..16).collect();
        assert_eq!(
            expand(&json!({"a": values, "b": values})).unwrap().len(),
            256
        );

        let more: Vec<u32> = (0..17).collect();
        let error = expand(&json!({"a": more, "b": values})).unwrap_err();
        assert_eq!(error, MatrixError::TooManyCombinations { count: 272 });
        assert_eq!(
            error.to_string(),
            "matrix expands to 272 jobs, but GitHub allows at most 256; exclude combinations or \
             split the job"
        );

        let error = expand(&json!({"a": values, "b": values, "include": [{"a": 99}]}));
        assert_eq!(error, Err(MatrixError::TooManyCombinations { count: 257 }));
    }

    #[test]
    fn exclude_can_bring_product_under_limit() {
        let values: Vec<u32> = (0..20).collect();
        let exclude: Vec<Value> = (0..8).map(|a| json!({"a": a})).collect();
        let legs = expand(&json!({"a": values, "b": values, "exclude": exclude})).unwrap();
        assert_eq!(legs.len(), 240);
        assert_eq!(Value::Object(legs[0].clone()), json!({"a": 8, "b": 0}));
    }

    #[test]
    fn huge_product_is_rejected_early() {
        let ten: Vec<u32> = (0..10).collect();
        let matrix = json!({"a": ten, "b": ten, "c": ten, "d": ten, "e": ten, "f": ten,
                            "g": ten, "h": ten, "i": ten, "j": ten});
        assert_eq!(
            expand(&matrix),
            Err(MatrixError::ProductTooLarge {
                count: "10000000000".to_string()
            })
        );
    }

    #[test]
    fn empty_after_exclude_is_an_error() {
        let error = expand(&json!({"os": ["a"], "exclude": [{"os": "a"}]})).unwrap_err();
        assert_eq!(error, MatrixError::EmptyAfterExclude);
    }

    #[test]
    fn invalid_shapes_are_errors() {
        assert_eq!(
            expand(&json!("x")),
            Err(MatrixError::NotAMapping { found: "a string" })
        );
        assert_eq!(expand(&json!({})), Err(MatrixError::NoVectors));
        assert_eq!(
            expand(&json!({"os": "ubuntu"})),
            Err(MatrixError::NotAList {
                key: "os".to_string(),
                found: "a string"
            })
        );
        assert_eq!(
            expand(&json!({"os": []})),
            Err(MatrixError::EmptyVector {
                key: "os".to_string()
            })
        );
        assert_eq!(
            expand(&json!({"os": ["a"], "include": {"x": 1}})),
            Err(MatrixError::InvalidList {
                list: "include",
                found: "a mapping"
            })
        );
        assert_eq!(
            expand(&json!({"os": ["a"], "exclude": [1]})),
            Err(MatrixError::InvalidEntry {
                list: "exclude",
                index: 0,
                found: "a number"
            })
        );
    }

    #[test]
    fn exclude_key_must_be_matrix_key() {
        let error = expand(&json!({
            "os": ["a"],
            "rust": ["1"],
            "exclude": [{"os": "a", "build": false}],
            "include": [{"build": true}]
        }))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "matrix exclude[0] uses key `build`, which is not a matrix key (matrix keys: os, \
             rust); exclude applies before include, so it can only name keys defined in the matrix"
        );
    }

    #[test]
    fn exclude_without_axes_names_no_keys() {
        let error = expand(&json!({
            "include": [{"os": "a"}, {"os": "b"}],
            "exclude": [{"os": "a"}]
        }))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "matrix exclude[0] uses key `os`, which is not a matrix key (matrix keys: none); \
             exclude applies before include, so it can only name keys defined in the matrix"
        );
    }

    #[test]
    fn display_names() {
        let combination = expand(&json!({"os": ["ubuntu"], "rust": [1.80]}))
            .unwrap()
            .remove(0);
        assert_eq!(
            display_name("build", Some(&combination)),
            "build (ubuntu, 1.8)"
        );
        assert_eq!(
            display_name("Build ${{ matrix.os }}", Some(&combination)),
            "Build ${{ matrix.os }}"
        );
        assert_eq!(
            display_name("Build ${{ github.ref }}", Some(&combination)),
            "Build ${{ github.ref }} (ubuntu, 1.8)"
        );
        assert_eq!(display_name("build", None), "build");

        let nested = expand(&json!({
            "cfg": [{"os": "ubuntu", "cc": "gcc"}],
            "flags": [["-O2", "-g"]],
            "on": [true],
            "none": [null]
        }))
        .unwrap()
        .remove(0);
        assert_eq!(display_values(&nested), "ubuntu, gcc, -O2, -g, true, ");
    }

    #[test]
    fn matrix_detection_in_names() {
        assert!(name_uses_matrix("${{ matrix.os }}"));
        assert!(name_uses_matrix("x ${{ format('{0}', matrix['os']) }}"));
        assert!(!name_uses_matrix("matrix build"));
        assert!(!name_uses_matrix("${{ github.matrix }}"));
        assert!(!name_uses_matrix("${{ inputs.matrixes }}"));
    }

    #[test]
    fn expression_detection() {
        assert!(contains_expression(&json!(
            "${{ fromJSON(needs.a.outputs.m) }}"
        )));
        assert!(contains_expression(&json!({"os": "${{ fromJSON(x) }}"})));
        assert!(contains_expression(
            &json!({"include": [{"v": ["${{ x }}"]}]})
        ));
        assert!(!contains_expression(&json!({"os": ["ubuntu", 1, null]})));
    }
}
