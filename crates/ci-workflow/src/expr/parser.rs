//! Parses tokens into an [`Expr`] tree.
//!
//! Precedence, from loosest to tightest binding: `||`, `&&`, `==` `!=`,
//! `<` `<=` `>` `>=`, `!`, then property access, indexing and calls. `&&` and
//! `||` chains become one node with all their operands.
//!
//! Two limits keep hostile text from exhausting the stack: the text may hold
//! at most [`MAX_EXPRESSION_LENGTH`] characters, and both the parser's own
//! recursion and the height of the tree it builds stop at [`MAX_DEPTH`]. The
//! evaluator recurses along the tree, so its depth is bounded too.

use super::error::ExprError;
use super::lexer::{Token, TokenKind, tokenize};
use super::value::Value;

/// The maximum number of characters in one expression. GitHub's expression
/// parser (actions/languageservices, `expressions/src/errors.ts`) uses the
/// same limit.
pub const MAX_EXPRESSION_LENGTH: usize = 21_000;

/// The maximum nesting depth of an expression, the same limit as in GitHub's
/// expression parser.
pub const MAX_DEPTH: usize = 50;

/// The contexts an expression may name. GitHub rejects any other name.
pub const NAMED_VALUES: &[&str] = &[
    "github", "env", "vars", "secrets", "inputs", "job", "jobs", "steps", "runner", "strategy",
    "matrix", "needs",
];

/// A parsed expression.
///
/// [`parse`] bounds the height of the tree by [`MAX_DEPTH`], which keeps
/// evaluation's recursion shallow. A tree built by hand has no such bound.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal value: `null`, `true`, `1.5`, `'text'`.
    Literal(Value),
    /// A context, by its lower-case name: `github`, `matrix`.
    NamedValue(String),
    /// Property access or indexing: `a.b`, `a['b']`, `a[0]`.
    Index { target: Box<Expr>, index: Box<Expr> },
    /// The filter `a.*` or `a[*]`, which selects every element or property
    /// value.
    Wildcard(Box<Expr>),
    /// `!operand`.
    Not(Box<Expr>),
    /// A comparison: `a == b`, `a < b`.
    Compare {
        op: CompareOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `a && b && ...`, which returns the first falsy operand or the last.
    And(Vec<Expr>),
    /// `a || b || ...`, which returns the first truthy operand or the last.
    Or(Vec<Expr>),
    /// A function call.
    Call { function: Function, args: Vec<Expr> },
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Contains,
    StartsWith,
    EndsWith,
    Format,
    Join,
    ToJson,
    FromJson,
    HashFiles,
    Success,
    Always,
    Cancelled,
    Failure,
    Case,
}

impl Function {
    /// Every function, for name lookup.
    pub const ALL: [Function; 13] = [
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::Format,
        Function::Join,
        Function::ToJson,
        Function::FromJson,
        Function::HashFiles,
        Function::Success,
        Function::Always,
        Function::Cancelled,
        Function::Failure,
        Function::Case,
    ];

    /// Returns the name as GitHub's documentation spells it.
    pub fn name(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "startsWith",
            Function::EndsWith => "endsWith",
            Function::Format => "format",
            Function::Join => "join",
            Function::ToJson => "toJSON",
            Function::FromJson => "fromJSON",
            Function::HashFiles => "hashFiles",
            Function::Success => "success",
            Function::Always => "always",
            Function::Cancelled => "cancelled",
            Function::Failure => "failure",
            Function::Case => "case",
        }
    }

    /// Finds a function by name, ignoring case.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.name().eq_ignore_ascii_case(name))
    }

    /// Whether the function reads the job or step status.
    pub fn is_status_function(self) -> bool {
        matches!(
            self,
            Function::Success | Function::Always | Function::Cancelled | Function::Failure
        )
    }

    /// Returns the minimum and maximum number of arguments, and the count
    /// as error messages state it.
    fn arity(self) -> (usize, usize, &'static str) {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith => (2, 2, "2 arguments"),
            Function::Format => (1, 255, "1 to 255 arguments"),
            Function::Join => (1, 2, "1 or 2 arguments"),
            Function::ToJson | Function::FromJson => (1, 1, "1 argument"),
            Function::HashFiles => (1, usize::MAX, "at least 1 argument"),
            Function::Success | Function::Always | Function::Cancelled | Function::Failure => {
                (0, 0, "no arguments")
            }
            Function::Case => (3, usize::MAX, "an odd number of arguments, at least 3"),
        }
    }
}

impl Expr {
    /// Returns whether the expression calls `success`, `always`, `cancelled` or
    /// `failure` anywhere. A function name inside a string literal does not
    /// count.
    pub fn contains_status_function(&self) -> bool {
        let mut found = false;
        self.visit(&mut |expr| {
            if let Expr::Call { function, .. } = expr {
                found |= function.is_status_function();
            }
        });
        found
    }

    /// Returns the lower-case names of the contexts the expression reads, in order
    /// of first use and without repeats.
    pub fn named_values(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        self.visit(&mut |expr| {
            if let Expr::NamedValue(name) = expr {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        });
        names
    }

    /// Calls `visitor` on this node and every node below it, parents first.
    pub fn visit<'a>(&'a self, visitor: &mut dyn FnMut(&'a Expr)) {
        visitor(self);
        match self {
            Expr::Literal(_) | Expr::NamedValue(_) => {}
            Expr::Index { target, index } => {
                target.visit(visitor);
                index.visit(visitor);
            }
            Expr::Wildcard(inner) | Expr::Not(inner) => inner.visit(visitor),
            Expr::Compare { left, right, .. } => {
                left.visit(visitor);
                right.visit(visitor);
            }
            Expr::And(operands) | Expr::Or(operands) | Expr::Call { args: operands, .. } => {
                for operand in operands {
                    operand.visit(visitor);
                }
            }
        }
    }
}

/// Parses one expression (the text between `${{` and `}}`).
pub fn parse(source: &str) -> Result<Expr, ExprError> {
    let length = source.chars().count();
    if length > MAX_EXPRESSION_LENGTH {
        return Err(ExprError::TooLong {
            length,
            max: MAX_EXPRESSION_LENGTH,
        });
    }
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        position: 0,
        nesting: 0,
    };
    let (expr, _) = parser.expression()?;
    parser.expect_end()?;
    Ok(expr)
}

/// A subtree and its height (1 for a leaf).
type Parsed = (Expr, usize);

struct Parser {
    tokens: Vec<Token>,
    position: usize,
    nesting: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.position.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.position < self.tokens.len() - 1 {
            self.position += 1;
        }
        token
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if &self.peek().kind == kind {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expected(&self, expected: &str) -> ExprError {
        let token = self.peek();
        ExprError::Expected {
            expected: expected.to_owned(),
            found: token.kind.describe(),
            column: token.column,
        }
    }

    fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<(), ExprError> {
        if self.eat(kind) {
            Ok(())
        } else {
            Err(self.expected(expected))
        }
    }

    fn expect_end(&self) -> Result<(), ExprError> {
        if self.peek().kind == TokenKind::End {
            Ok(())
        } else {
            Err(self.expected("an operator or the end of the expression"))
        }
    }

    /// Enters one level of recursion, failing past [`MAX_DEPTH`].
    fn enter(&mut self, column: usize) -> Result<(), ExprError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(ExprError::TooDeep {
                max: MAX_DEPTH,
                column,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// Wraps children into a node, failing when the tree grows past
    /// [`MAX_DEPTH`].
    fn node(expr: Expr, child_height: usize, column: usize) -> Result<Parsed, ExprError> {
        let height = child_height + 1;
        if height > MAX_DEPTH {
            return Err(ExprError::TooDeep {
                max: MAX_DEPTH,
                column,
            });
        }
        Ok((expr, height))
    }

    fn expression(&mut self) -> Result<Parsed, ExprError> {
        let column = self.peek().column;
        self.enter(column)?;
        let result = self.or();
        self.leave();
        result
    }

    fn or(&mut self) -> Result<Parsed, ExprError> {
        let (first, mut height) = self.and()?;
        if self.peek().kind != TokenKind::Or {
            return Ok((first, height));
        }
        let mut operands = vec![first];
        while self.peek().kind == TokenKind::Or {
            self.advance();
            let (operand, operand_height) = self.and()?;
            height = height.max(operand_height);
            operands.push(operand);
        }
        let column = self.peek().column;
        Self::node(Expr::Or(operands), height, column)
    }

    fn and(&mut self) -> Result<Parsed, ExprError> {
        let (first, mut height) = self.equality()?;
        if self.peek().kind != TokenKind::And {
            return Ok((first, height));
        }
        let mut operands = vec![first];
        while self.peek().kind == TokenKind::And {
            self.advance();
            let (operand, operand_height) = self.equality()?;
            height = height.max(operand_height);
            operands.push(operand);
        }
        let column = self.peek().column;
        Self::node(Expr::And(operands), height, column)
    }

    fn equality(&mut self) -> Result<Parsed, ExprError> {
        let mut left = self.comparison()?;
        loop {
            let op = match self.peek().kind {
                TokenKind::Equal => CompareOp::Equal,
                TokenKind::NotEqual => CompareOp::NotEqual,
                _ => return Ok(left),
            };
            let column = self.advance().column;
            let right = self.comparison()?;
            left = Self::compare_node(op, left, right, column)?;
        }
    }

    fn comparison(&mut self) -> Result<Parsed, ExprError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().kind {
                TokenKind::Less => CompareOp::Less,
                TokenKind::LessEqual => CompareOp::LessEqual,
                TokenKind::Greater => CompareOp::Greater,
                TokenKind::GreaterEqual => CompareOp::GreaterEqual,
                _ => return Ok(left),
            };
            let column = self.advance().column;
            let right = self.unary()?;
            left = Self::compare_node(op, left, right, column)?;
        }
    }

    fn compare_node(
        op: CompareOp,
        left: Parsed,
        right: Parsed,
        column: usize,
    ) -> Result<Parsed, ExprError> {
        let height = left.1.max(right.1);
        let expr = Expr::Compare {
            op,
            left: Box::new(left.0),
            right: Box::new(right.0),
        };
        Self::node(expr, height, column)
    }

    fn unary(&mut self) -> Result<Parsed, ExprError> {
        if self.peek().kind != TokenKind::Not {
            return self.postfix();
        }
        let column = self.advance().column;
        self.enter(column)?;
        let operand = self.unary();
        self.leave();
        let (operand, height) = operand?;
        Self::node(Expr::Not(Box::new(operand)), height, column)
    }

    fn postfix(&mut self) -> Result<Parsed, ExprError> {
        let (mut expr, mut height) = self.primary()?;
        loop {
            let column = self.peek().column;
            match self.peek().kind {
                TokenKind::Dot => {
                    self.advance();
                    (expr, height) = self.property(expr, height)?;
                }
                TokenKind::LeftBracket => {
                    self.advance();
                    (expr, height) = self.bracket(expr, height, column)?;
                }
                _ => return Ok((expr, height)),
            }
        }
    }

    /// Parses what follows a `.`: a property name or `*`.
    fn property(&mut self, target: Expr, height: usize) -> Result<Parsed, ExprError> {
        let token = self.advance();
        let target = Box::new(target);
        match token.kind {
            TokenKind::Star => Self::node(Expr::Wildcard(target), height, token.column),
            TokenKind::Identifier(name) => {
                let index = Box::new(Expr::Literal(Value::String(name)));
                Self::node(Expr::Index { target, index }, height, token.column)
            }
            other => Err(ExprError::Expected {
                expected: "a property name or '*' after '.'".to_owned(),
                found: other.describe(),
                column: token.column,
            }),
        }
    }

    /// Parses what follows a `[`: `*]` or an index expression and `]`.
    fn bracket(&mut self, target: Expr, height: usize, column: usize) -> Result<Parsed, ExprError> {
        let target = Box::new(target);
        if self.eat(&TokenKind::Star) {
            self.expect(&TokenKind::RightBracket, "']'")?;
            return Self::node(Expr::Wildcard(target), height, column);
        }
        let (index, index_height) = self.expression()?;
        self.expect(&TokenKind::RightBracket, "']'")?;
        let expr = Expr::Index {
            target,
            index: Box::new(index),
        };
        Self::node(expr, height.max(index_height), column)
    }

    fn primary(&mut self) -> Result<Parsed, ExprError> {
        let token = self.advance();
        let literal = |value| Ok((Expr::Literal(value), 1));
        match token.kind {
            TokenKind::Null => literal(Value::Null),
            TokenKind::Bool(value) => literal(Value::Bool(value)),
            TokenKind::Number(number) => literal(Value::Number(number)),
            TokenKind::String(text) => literal(Value::String(text)),
            TokenKind::LeftParen => {
                let inner = self.expression()?;
                self.expect(&TokenKind::RightParen, "')'")?;
                Ok(inner)
            }
            TokenKind::Identifier(name) if self.peek().kind == TokenKind::LeftParen => {
                self.call(&name, token.column)
            }
            TokenKind::Identifier(name) => named_value(name, token.column),
            other => Err(ExprError::Expected {
                expected: "a value, a context name, a function call or '('".to_owned(),
                found: other.describe(),
                column: token.column,
            }),
        }
    }

    fn call(&mut self, name: &str, column: usize) -> Result<Parsed, ExprError> {
        let function = Function::from_name(name).ok_or_else(|| ExprError::UnknownFunction {
            name: name.to_owned(),
            column,
        })?;
        self.advance();

        let mut args = Vec::new();
        let mut height = 0;
        if !self.eat(&TokenKind::RightParen) {
            loop {
                let (arg, arg_height) = self.expression()?;
                height = height.max(arg_height);
                args.push(arg);
                if self.eat(&TokenKind::RightParen) {
                    break;
                }
                self.expect(&TokenKind::Comma, "',' or ')'")?;
            }
        }

        let (min, max, expected) = function.arity();
        let even_case = function == Function::Case && args.len() % 2 == 0;
        if args.len() < min || args.len() > max || even_case {
            return Err(ExprError::ArgumentCount {
                function: function.name(),
                expected,
                found: args.len(),
                column,
            });
        }
        Self::node(Expr::Call { function, args }, height, column)
    }
}

fn named_value(name: String, column: usize) -> Result<Parsed, ExprError> {
    let lower = name.to_ascii_lowercase();
    if NAMED_VALUES.contains(&lower.as_str()) {
        Ok((Expr::NamedValue(lower), 1))
    } else {
        Err(ExprError::UnknownNamedValue { name, column })
    }
}
