//! Typed access to one TOML table, with errors that name the file, the
//! section and the key.
//!
//! The configuration types are read through this instead of
//! `#[derive(Deserialize)]`, because serde's messages name neither the
//! file nor an example of the expected form.

use toml::{Table, Value};

use super::ConfigError;

/// Parses `text` as a TOML document.
pub(crate) fn parse_document(path: &str, text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|error| {
        let (line, column) = error
            .span()
            .map_or((1, 1), |span| line_and_column(text, span.start));
        ConfigError::Syntax {
            path: path.to_string(),
            line,
            column,
            message: error.message().replace('\n', " "),
        }
    })
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// One table of a configuration file.
pub(crate) struct Section<'a> {
    path: &'a str,
    /// The header as the user wrote it, such as `[runner.limits]`.
    name: String,
    table: &'a Table,
}

impl<'a> Section<'a> {
    pub(crate) fn new(path: &'a str, name: impl Into<String>, table: &'a Table) -> Self {
        Section {
            path,
            name: name.into(),
            table,
        }
    }

    /// Builds the error for `key` with the expected form.
    pub(crate) fn invalid(&self, key: &str, expected: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_string(),
            place: format!("{} {key}", self.name),
            expected: expected.into(),
        }
    }

    /// Rejects keys outside `known`.
    pub(crate) fn check_known(&self, known: &[&str]) -> Result<(), ConfigError> {
        match self.table.keys().find(|key| !known.contains(&key.as_str())) {
            None => Ok(()),
            Some(key) => Err(ConfigError::UnknownKey {
                path: self.path.to_string(),
                section: self.name.clone(),
                key: key.clone(),
                known: known.join(", "),
            }),
        }
    }

    /// Returns every key and value of the table.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        self.table.iter()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    /// Reads a string; `example` is a whole line such as `name = "ci-1"`.
    pub(crate) fn string(&self, key: &str, example: &str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.invalid(key, format!("expected a string, like {example}"))),
        }
    }

    /// Reads a string that must be present.
    pub(crate) fn required_string(&self, key: &str, example: &str) -> Result<String, ConfigError> {
        self.string(key, example)?
            .ok_or_else(|| self.invalid(key, format!("missing; expected a string, like {example}")))
    }

    /// Reads a list of strings.
    pub(crate) fn string_list(
        &self,
        key: &str,
        example: &str,
    ) -> Result<Option<Vec<String>>, ConfigError> {
        let expected = || self.invalid(key, format!("expected a list of strings, like {example}"));
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string).ok_or_else(expected))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(expected()),
        }
    }

    /// Reads a boolean.
    pub(crate) fn boolean(&self, key: &str, example: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(flag)) => Ok(Some(*flag)),
            Some(_) => Err(self.invalid(key, format!("expected true or false, like {example}"))),
        }
    }

    /// Reads an integer of at least `min`.
    pub(crate) fn integer(
        &self,
        key: &str,
        min: i64,
        example: &str,
    ) -> Result<Option<u64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(number)) if *number >= min => Ok(Some(*number as u64)),
            Some(_) => Err(self.invalid(
                key,
                format!("expected a whole number of at least {min}, like {example}"),
            )),
        }
    }

    /// Reads a positive number, integer or float.
    pub(crate) fn positive_float(
        &self,
        key: &str,
        example: &str,
    ) -> Result<Option<f64>, ConfigError> {
        let number = match self.get(key) {
            None => return Ok(None),
            Some(Value::Integer(number)) => *number as f64,
            Some(Value::Float(number)) => *number,
            // Docker-style configurations write CPU counts as strings ("1.5").
            Some(Value::String(text)) => text.trim().parse().unwrap_or(f64::NAN),
            Some(_) => f64::NAN,
        };
        if number.is_finite() && number > 0.0 {
            Ok(Some(number))
        } else {
            Err(self.invalid(
                key,
                format!("expected a number greater than 0, like {example}"),
            ))
        }
    }

    /// Reads a size in bytes: an integer, or a string with a binary unit
    /// (`K`, `M`, `G`, `T`, optionally followed by `iB` or `B`).
    pub(crate) fn size(&self, key: &str, example: &str) -> Result<Option<u64>, ConfigError> {
        let expected = || {
            self.invalid(
                key,
                format!("expected a size in bytes or with a unit K, M, G or T, like {example}"),
            )
        };
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(number)) if *number > 0 => Ok(Some(*number as u64)),
            Some(Value::String(text)) => parse_size(text).map(Some).ok_or_else(expected),
            Some(_) => Err(expected()),
        }
    }

    /// Reads a sub-table, named `header` in messages.
    pub(crate) fn table(
        &self,
        key: &str,
        header: &str,
    ) -> Result<Option<Section<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(table)) => Ok(Some(Section::new(self.path, header, table))),
            Some(_) => Err(self.invalid(key, format!("expected a table, written as {header}"))),
        }
    }

    /// Reads an array of tables, named `[[header]] #N` in messages.
    pub(crate) fn table_array(
        &self,
        key: &str,
        header: &str,
    ) -> Result<Vec<Section<'a>>, ConfigError> {
        let expected = || self.invalid(key, format!("expected tables, written as [[{header}]]"));
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Value::Table(table) => Ok(Section::new(
                        self.path,
                        format!("[[{header}]] #{}", index + 1),
                        table,
                    )),
                    _ => Err(expected()),
                })
                .collect(),
            Some(_) => Err(expected()),
        }
    }
}

/// Parses `"512M"`, `"4G"`, `"2GiB"` or `"1024"` into bytes (binary units).
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let number: u64 = digits.parse().ok()?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    number.checked_mul(1u64 << shift).filter(|bytes| *bytes > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("3kb"), Some(3 << 10));
        assert_eq!(parse_size("1T"), Some(1 << 40));
    }

    #[test]
    fn invalid_sizes() {
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("1.5G"), None);
        assert_eq!(parse_size("4X"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let error = parse_document("f.toml", "a = 1\nb = [\n").unwrap_err();
        let ConfigError::Syntax { line, path, .. } = &error else {
            panic!("expected a syntax error, got {error:?}");
        };
        assert_eq!(path, "f.toml");
        assert!(*line >= 2, "line {line}");
        assert!(!error.to_string().contains('\n'));
    }

    #[test]
    fn wrong_type_names_file_section_and_key() {
        let table = parse_document("f.toml", "tags = \"linux\"").unwrap();
        let section = Section::new("f.toml", "[runner]", &table);
        let error = section
            .string_list("tags", "tags = [\"linux\", \"x64\"]")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.toml: [runner] tags: expected a list of strings, like tags = [\"linux\", \"x64\"]"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let table = parse_document("f.toml", "nmae = \"x\"").unwrap();
        let section = Section::new("f.toml", "[runner]", &table);
        let error = section.check_known(&["name", "tags"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.toml: [runner]: unknown key \"nmae\"; expected one of: name, tags"
        );
    }

    #[test]
    fn integer_minimum_is_enforced() {
        let table = parse_document("f.toml", "n = 0").unwrap();
        let section = Section::new("f.toml", "[runner.limits]", &table);
        assert!(section.integer("n", 1, "n = 4").is_err());
        assert_eq!(section.integer("n", 0, "n = 4").unwrap(), Some(0));
    }
}
