//! Splits expression text into tokens.
//!
//! The rules follow GitHub's lexer: a number, identifier or keyword runs
//! until a boundary character (whitespace or one of `( ) [ ] , . ! < > = & |`),
//! except that a number may contain `.`. A `.` starts a number unless it
//! follows something that can be dereferenced (an identifier, `]`, `)` or
//! `*`). After a `.`, keywords such as `true` are plain property names.

use super::error::ExprError;
use super::value::parse_number;

/// One token, with the 1-based column of its first character.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) column: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Star,
    Not,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    And,
    Or,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Identifier(String),
    End,
}

impl TokenKind {
    /// Describes the token for an error message.
    pub(crate) fn describe(&self) -> String {
        let symbol = match self {
            TokenKind::LeftParen => "(",
            TokenKind::RightParen => ")",
            TokenKind::LeftBracket => "[",
            TokenKind::RightBracket => "]",
            TokenKind::Comma => ",",
            TokenKind::Dot => ".",
            TokenKind::Star => "*",
            TokenKind::Not => "!",
            TokenKind::Equal => "==",
            TokenKind::NotEqual => "!=",
            TokenKind::Less => "<",
            TokenKind::LessEqual => "<=",
            TokenKind::Greater => ">",
            TokenKind::GreaterEqual => ">=",
            TokenKind::And => "&&",
            TokenKind::Or => "||",
            TokenKind::Null => "null",
            TokenKind::Bool(true) => "true",
            TokenKind::Bool(false) => "false",
            TokenKind::Number(number) => {
                return format!("number {}", super::value::format_number(*number));
            }
            TokenKind::String(text) => return format!("string '{}'", text.replace('\'', "''")),
            TokenKind::Identifier(name) => return format!("'{name}'"),
            TokenKind::End => return "end of expression".to_owned(),
        };
        format!("'{symbol}'")
    }
}

/// Splits `source` into tokens, ending with [`TokenKind::End`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ExprError> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        position: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer {
    chars: Vec<char>,
    position: usize,
    tokens: Vec<Token>,
}

impl Lexer {
    fn run(&mut self) -> Result<(), ExprError> {
        while let Some(&c) = self.chars.get(self.position) {
            let start = self.position;
            self.position += 1;
            let kind = match c {
                c if c.is_whitespace() => continue,
                '(' => TokenKind::LeftParen,
                ')' => TokenKind::RightParen,
                '[' => TokenKind::LeftBracket,
                ']' => TokenKind::RightBracket,
                ',' => TokenKind::Comma,
                '*' => TokenKind::Star,
                '.' if self.follows_dereferenceable() => TokenKind::Dot,
                '.' | '-' | '+' | '0'..='9' => self.number(start)?,
                '!' => self.pair('=', TokenKind::NotEqual, TokenKind::Not),
                '<' => self.pair('=', TokenKind::LessEqual, TokenKind::Less),
                '>' => self.pair('=', TokenKind::GreaterEqual, TokenKind::Greater),
                '=' => {
                    self.required_pair(start, '=', TokenKind::Equal, " (use '==' to compare)")?
                }
                '&' => self.required_pair(start, '&', TokenKind::And, " (use '&&')")?,
                '|' => self.required_pair(start, '|', TokenKind::Or, " (use '||')")?,
                '\'' => self.string(start)?,
                _ => self.word(start)?,
            };
            self.tokens.push(Token {
                kind,
                column: start + 1,
            });
        }
        self.tokens.push(Token {
            kind: TokenKind::End,
            column: self.chars.len() + 1,
        });
        Ok(())
    }

    fn follows_dereferenceable(&self) -> bool {
        matches!(
            self.tokens.last().map(|token| &token.kind),
            Some(
                TokenKind::Identifier(_)
                    | TokenKind::RightBracket
                    | TokenKind::RightParen
                    | TokenKind::Star
            )
        )
    }

    fn pair(&mut self, second: char, both: TokenKind, single: TokenKind) -> TokenKind {
        if self.chars.get(self.position) == Some(&second) {
            self.position += 1;
            both
        } else {
            single
        }
    }

    fn required_pair(
        &mut self,
        start: usize,
        second: char,
        both: TokenKind,
        hint: &'static str,
    ) -> Result<TokenKind, ExprError> {
        if self.chars.get(self.position) == Some(&second) {
            self.position += 1;
            return Ok(both);
        }
        Err(ExprError::UnexpectedSymbol {
            symbol: self.chars[start].to_string(),
            column: start + 1,
            hint,
        })
    }

    /// Advances past the characters up to the next boundary, letting `.`
    /// through when `allow_dot` is set.
    fn skip_to_boundary(&mut self, allow_dot: bool) {
        while let Some(&c) = self.chars.get(self.position) {
            if is_boundary(c) && !(allow_dot && c == '.') {
                break;
            }
            self.position += 1;
        }
    }

    fn number(&mut self, start: usize) -> Result<TokenKind, ExprError> {
        self.skip_to_boundary(true);
        let text: String = self.chars[start..self.position].iter().collect();
        let number = parse_number(&text);
        if number.is_nan() {
            return Err(ExprError::UnexpectedSymbol {
                symbol: text,
                column: start + 1,
                hint: " (not a valid number)",
            });
        }
        Ok(TokenKind::Number(number))
    }

    fn string(&mut self, start: usize) -> Result<TokenKind, ExprError> {
        let mut text = String::new();
        loop {
            match self.chars.get(self.position) {
                None => return Err(ExprError::UnterminatedString { column: start + 1 }),
                Some('\'') if self.chars.get(self.position + 1) == Some(&'\'') => {
                    text.push('\'');
                    self.position += 2;
                }
                Some('\'') => {
                    self.position += 1;
                    return Ok(TokenKind::String(text));
                }
                Some(&c) => {
                    text.push(c);
                    self.position += 1;
                }
            }
        }
    }

    fn word(&mut self, start: usize) -> Result<TokenKind, ExprError> {
        self.skip_to_boundary(false);
        let text: String = self.chars[start..self.position].iter().collect();
        let after_dot = matches!(self.tokens.last().map(|t| &t.kind), Some(TokenKind::Dot));
        if !after_dot {
            match text.as_str() {
                "null" => return Ok(TokenKind::Null),
                "true" => return Ok(TokenKind::Bool(true)),
                "false" => return Ok(TokenKind::Bool(false)),
                "NaN" => return Ok(TokenKind::Number(f64::NAN)),
                "Infinity" => return Ok(TokenKind::Number(f64::INFINITY)),
                _ => {}
            }
        }
        if !is_identifier(&text) {
            let hint = if text.starts_with('"') {
                " (strings use single quotes: 'text')"
            } else {
                ""
            };
            return Err(ExprError::UnexpectedSymbol {
                symbol: text,
                column: start + 1,
                hint,
            });
        }
        Ok(TokenKind::Identifier(text))
    }
}

fn is_boundary(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|'
    ) || c.is_whitespace()
}

/// Returns whether `text` is a letter or `_` followed by letters, digits, `_` and `-`
/// (ASCII only, as GitHub requires).
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn columns_count_characters() {
        let tokens = tokenize("'é' == x").unwrap();
        let columns: Vec<usize> = tokens.iter().map(|token| token.column).collect();
        assert_eq!(columns, vec![1, 5, 8, 9]);
    }

    #[test]
    fn dot_after_identifier_is_dereference() {
        assert_eq!(
            kinds("a.b"),
            vec![
                TokenKind::Identifier("a".into()),
                TokenKind::Dot,
                TokenKind::Identifier("b".into()),
                TokenKind::End
            ]
        );
    }

    #[test]
    fn dot_at_start_is_number() {
        assert_eq!(kinds(".5"), vec![TokenKind::Number(0.5), TokenKind::End]);
    }

    #[test]
    fn keywords_after_dot_are_names() {
        assert_eq!(
            kinds("a.null"),
            vec![
                TokenKind::Identifier("a".into()),
                TokenKind::Dot,
                TokenKind::Identifier("null".into()),
                TokenKind::End
            ]
        );
    }

    #[test]
    fn keywords_are_case_sensitive() {
        assert_eq!(
            kinds("TRUE"),
            vec![TokenKind::Identifier("TRUE".into()), TokenKind::End]
        );
    }

    #[test]
    fn two_character_operators() {
        assert_eq!(
            kinds("<=>=!=! ==&&||"),
            vec![
                TokenKind::LessEqual,
                TokenKind::GreaterEqual,
                TokenKind::NotEqual,
                TokenKind::Not,
                TokenKind::Equal,
                TokenKind::And,
                TokenKind::Or,
                TokenKind::End
            ]
        );
    }

    #[test]
    fn escaped_quote_in_string() {
        assert_eq!(
            kinds("'a''b'"),
            vec![TokenKind::String("a'b".into()), TokenKind::End]
        );
    }

    #[test]
    fn identifier_with_dash_and_digits() {
        assert_eq!(
            kinds("my-step_2"),
            vec![TokenKind::Identifier("my-step_2".into()), TokenKind::End]
        );
    }

    #[test]
    fn unexpected_symbol_column() {
        let error = tokenize("a &b").unwrap_err();
        assert_eq!(error.column(), Some(3));
    }
}
