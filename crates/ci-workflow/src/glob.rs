//! GitHub's filter patterns for branches, tags and paths.
//!
//! The `branches`, `tags` and `paths` filters under `on:` take patterns in
//! GitHub's own glob dialect, which differs from shell globs:
//!
//! - `*` matches zero or more characters except `/`.
//! - `**` matches zero or more of any character, `/` included. A `**/`
//!   at the start of the pattern or after a `/` matches zero or more whole
//!   directories, so `**/README.md` matches `README.md` and `a/b/README.md`.
//! - `?` matches zero or one of the preceding character, and `+` one or
//!   more of it, as in regular expressions (`*.jsx?` matches `page.js` and
//!   `page.jsx`).
//! - `[...]` matches one listed character. Ranges are limited to `a-z`,
//!   `A-Z` and `0-9`.
//! - `\` makes the next character literal (`\*`, `\+`, `\!`).
//! - `!` at the start of a pattern in a list negates it.
//!
//! A list of patterns is evaluated in order and the last matching pattern
//! decides: a name matched by `releases/**` and then by `!releases/**-alpha`
//! is excluded, and a later positive pattern can include it again. A list
//! made only of negations therefore matches nothing.
//!
//! Source: the "Filter pattern cheat sheet" and the branch, tag and path
//! filter sections of GitHub's "Workflow syntax for GitHub Actions" page.
//!
//! Patterns compile to a small nondeterministic automaton that is run over
//! the input with a set of active states, so matching takes at most
//! `pattern length × input length` steps whatever the pattern. A hostile
//! pattern such as `*a*a*a*a*b` cannot cause exponential backtracking.

use std::fmt;

/// The maximum length of one pattern, in characters. Matching costs up to
/// `pattern length × input length` steps, so a pattern of a megabyte of
/// `*a` against a long path would take minutes. Real patterns are far
/// shorter.
///
/// NOTE: the limit bounds one match, not a whole trigger: a file of many
/// long patterns checked against many changed paths still multiplies.
pub const MAX_PATTERN_LENGTH: usize = 1024;

/// Errors from compiling a filter pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter pattern {pattern:?} at character {position}: {reason}")]
pub struct GlobError {
    /// The pattern as written, including any leading `!`.
    pub pattern: String,
    /// One-based character position of the problem in `pattern`.
    pub position: usize,
    /// Description of the problem and its fix.
    pub reason: String,
}

/// Character test on one automaton edge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Char(char),
    /// Characters and inclusive ranges listed in `[...]`.
    Class(Vec<(char, char)>),
    /// Any character except `/` (the `*` wildcard).
    NotSlash,
    /// Any character (the `**` wildcard).
    Any,
}

impl Matcher {
    fn accepts(&self, c: char) -> bool {
        match self {
            Matcher::Char(expected) => *expected == c,
            Matcher::Class(ranges) => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)),
            Matcher::NotSlash => c != '/',
            Matcher::Any => true,
        }
    }
}

/// One automaton state: at most one consuming edge plus epsilon edges.
#[derive(Debug, Clone, Default)]
struct State {
    edge: Option<(Matcher, usize)>,
    epsilon: Vec<usize>,
}

/// One compiled filter pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    negated: bool,
    states: Vec<State>,
    /// The accepting state; every other state leads to it.
    accept: usize,
}

/// How often the preceding item repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    One,
    ZeroOrOne,
    OneOrMore,
}

/// A parsed pattern item before it becomes automaton states.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Single(Matcher, Repeat),
    Star,
    DoubleStar,
    /// `**/` where it starts a path segment: zero or more directories.
    AnyDirectories,
}

impl Pattern {
    /// Compiles one pattern. A leading `!` makes it a negation, which only
    /// has a meaning inside a [`PatternList`].
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        let (negated, body, offset) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest, 1),
            None => (false, pattern, 0),
        };
        let length = pattern.chars().count();
        if length > MAX_PATTERN_LENGTH {
            return Err(GlobError {
                pattern: format!("{}...", pattern.chars().take(40).collect::<String>()),
                position: MAX_PATTERN_LENGTH + 1,
                reason: format!(
                    "the pattern is {length} characters long, more than the maximum of \
                     {MAX_PATTERN_LENGTH}; shorten it"
                ),
            });
        }
        let items = parse(body).map_err(|(position, reason)| GlobError {
            pattern: pattern.to_string(),
            position: position + offset + 1,
            reason,
        })?;
        let (states, accept) = build_automaton(&items);
        Ok(Self {
            source: pattern.to_string(),
            negated,
            states,
            accept,
        })
    }

    /// Returns the pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Returns whether the pattern starts with `!`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// Tests `text` against the pattern body, ignoring any negation.
    ///
    /// Each step visits only the active states, so a long pattern with few
    /// wildcards costs little per character.
    pub fn is_match(&self, text: &str) -> bool {
        let count = self.states.len();
        let mut current = ActiveStates::new(count);
        let mut next = ActiveStates::new(count);
        let mut stack = Vec::with_capacity(count);

        add_with_closure(&self.states, 0, &mut current, &mut stack);
        for c in text.chars() {
            next.clear();
            for &index in &current.list {
                let Some((matcher, target)) = &self.states[index].edge else {
                    continue;
                };
                if matcher.accepts(c) {
                    add_with_closure(&self.states, *target, &mut next, &mut stack);
                }
            }
            if next.list.is_empty() {
                return false;
            }
            std::mem::swap(&mut current, &mut next);
        }
        current.marks[self.accept]
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A set of automaton states: a mark per state for lookup and a list of
/// the marked ones, so that iterating and clearing cost the set's size.
struct ActiveStates {
    marks: Vec<bool>,
    list: Vec<usize>,
}

impl ActiveStates {
    fn new(count: usize) -> Self {
        Self {
            marks: vec![false; count],
            list: Vec::new(),
        }
    }

    /// Adds `state`; returns false when it was already in the set.
    fn insert(&mut self, state: usize) -> bool {
        if self.marks[state] {
            return false;
        }
        self.marks[state] = true;
        self.list.push(state);
        true
    }

    fn clear(&mut self) {
        for &state in &self.list {
            self.marks[state] = false;
        }
        self.list.clear();
    }
}

/// Adds `start` and every state reachable from it by epsilon edges.
fn add_with_closure(
    states: &[State],
    start: usize,
    active: &mut ActiveStates,
    stack: &mut Vec<usize>,
) {
    if !active.insert(start) {
        return;
    }
    stack.push(start);
    while let Some(index) = stack.pop() {
        for &target in &states[index].epsilon {
            if active.insert(target) {
                stack.push(target);
            }
        }
    }
}

/// Parses a pattern body (without its `!`) into items. Errors carry the
/// zero-based character index of the problem and the reason.
fn parse(body: &str) -> Result<Vec<Item>, (usize, String)> {
    let chars: Vec<char> = body.chars().collect();
    let mut items: Vec<Item> = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        match c {
            '*' => {
                let double = chars.get(index + 1) == Some(&'*');
                if !double {
                    items.push(Item::Star);
                    index += 1;
                    continue;
                }
                let starts_segment = index == 0 || chars[index - 1] == '/';
                if starts_segment && chars.get(index + 2) == Some(&'/') {
                    items.push(Item::AnyDirectories);
                    index += 3;
                } else {
                    items.push(Item::DoubleStar);
                    index += 2;
                }
            }
            '?' | '+' => {
                apply_quantifier(&mut items, c, index)?;
                index += 1;
            }
            '[' => {
                let (class, end) = parse_class(&chars, index)?;
                items.push(Item::Single(class, Repeat::One));
                index = end;
            }
            '\\' => {
                let Some(&escaped) = chars.get(index + 1) else {
                    return Err((
                        index,
                        "the pattern ends with `\\`, which escapes nothing; write `\\\\` for a \
                         literal backslash"
                            .to_string(),
                    ));
                };
                items.push(Item::Single(Matcher::Char(escaped), Repeat::One));
                index += 2;
            }
            _ => {
                items.push(Item::Single(Matcher::Char(c), Repeat::One));
                index += 1;
            }
        }
    }
    Ok(items)
}

/// Applies `?` or `+` to the item before it.
fn apply_quantifier(
    items: &mut [Item],
    quantifier: char,
    index: usize,
) -> Result<(), (usize, String)> {
    let repeat = if quantifier == '?' {
        Repeat::ZeroOrOne
    } else {
        Repeat::OneOrMore
    };
    match items.last_mut() {
        Some(Item::Single(_, current @ Repeat::One)) => {
            *current = repeat;
            Ok(())
        }
        // `*?`, `*+`, `**?` and `**+` repeat a wildcard that already
        // matches any run, so the quantifier changes nothing.
        Some(Item::Star | Item::DoubleStar | Item::AnyDirectories) => Ok(()),
        Some(Item::Single(..)) => Err((
            index,
            format!(
                "`{quantifier}` follows another `?` or `+`; escape it as `\\{quantifier}` to \
                 match it literally"
            ),
        )),
        None => Err((
            index,
            format!(
                "`{quantifier}` repeats the preceding character but nothing precedes it; escape \
                 it as `\\{quantifier}` to match it literally"
            ),
        )),
    }
}

/// Parses `[...]` starting at `open`. Returns the class and the index after
/// the closing `]`.
fn parse_class(chars: &[char], open: usize) -> Result<(Matcher, usize), (usize, String)> {
    let mut ranges = Vec::new();
    let mut index = open + 1;
    loop {
        let Some(&c) = chars.get(index) else {
            return Err((
                open,
                "`[` opens a character class that is never closed; add `]` or escape it as `\\[`"
                    .to_string(),
            ));
        };
        if c == ']' {
            break;
        }
        let (low, after_low) = class_char(chars, index)?;
        let is_range = chars.get(after_low) == Some(&'-')
            && chars.get(after_low + 1).is_some_and(|next| *next != ']');
        if !is_range {
            ranges.push((low, low));
            index = after_low;
            continue;
        }
        let (high, after_high) = class_char(chars, after_low + 1)?;
        check_range(low, high).map_err(|reason| (index, reason))?;
        ranges.push((low, high));
        index = after_high;
    }
    if ranges.is_empty() {
        return Err((
            open,
            "`[]` lists no characters; list at least one or escape the bracket as `\\[`"
                .to_string(),
        ));
    }
    Ok((Matcher::Class(ranges), index + 1))
}

/// Reads one possibly escaped character inside a class.
fn class_char(chars: &[char], index: usize) -> Result<(char, usize), (usize, String)> {
    match chars[index] {
        '\\' => match chars.get(index + 1) {
            Some(&escaped) => Ok((escaped, index + 2)),
            None => Err((
                index,
                "the pattern ends with `\\` inside `[...]`; close the class with `]`".to_string(),
            )),
        },
        c => Ok((c, index + 1)),
    }
}

/// GitHub allows ranges only within `a-z`, `A-Z` and `0-9`.
fn check_range(low: char, high: char) -> Result<(), String> {
    let same_kind = [('a', 'z'), ('A', 'Z'), ('0', '9')]
        .iter()
        .any(|(start, end)| (*start..=*end).contains(&low) && (*start..=*end).contains(&high));
    if !same_kind {
        return Err(format!(
            "range `{low}-{high}` is not allowed; ranges must stay within a-z, A-Z or 0-9"
        ));
    }
    if low > high {
        return Err(format!(
            "range `{low}-{high}` is reversed; write `{high}-{low}`"
        ));
    }
    Ok(())
}

/// Turns items into automaton states. State 0 is the start state.
fn build_automaton(items: &[Item]) -> (Vec<State>, usize) {
    let mut states = vec![State::default()];
    for item in items {
        let from = states.len() - 1;
        match item {
            Item::Single(matcher, repeat) => {
                let to = push_state(&mut states);
                states[from].edge = Some((matcher.clone(), to));
                match repeat {
                    Repeat::One => {}
                    Repeat::ZeroOrOne => states[from].epsilon.push(to),
                    Repeat::OneOrMore => states[to].epsilon.push(from),
                }
            }
            Item::Star | Item::DoubleStar => {
                let matcher = if *item == Item::Star {
                    Matcher::NotSlash
                } else {
                    Matcher::Any
                };
                states[from].edge = Some((matcher, from));
                let to = push_state(&mut states);
                states[from].epsilon.push(to);
            }
            Item::AnyDirectories => {
                // `(.*/)?`: either skip straight to `after`, or loop over
                // any run and then consume a `/`.
                let run = push_state(&mut states);
                let slash = push_state(&mut states);
                let after = push_state(&mut states);
                states[from].epsilon.extend([run, after]);
                states[run].edge = Some((Matcher::Any, run));
                states[run].epsilon.push(slash);
                states[slash].edge = Some((Matcher::Char('/'), after));
            }
        }
    }
    let accept = states.len() - 1;
    (states, accept)
}

fn push_state(states: &mut Vec<State>) -> usize {
    states.push(State::default());
    states.len() - 1
}

/// An ordered list of patterns where the last matching pattern decides.
#[derive(Debug, Clone, Default)]
pub struct PatternList {
    patterns: Vec<Pattern>,
}

impl PatternList {
    /// Compiles every pattern; the first invalid one is the error.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, GlobError> {
        let patterns = patterns
            .iter()
            .map(|pattern| Pattern::new(pattern.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { patterns })
    }

    /// Returns the compiled patterns in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Returns whether every pattern is a negation, so the list matches
    /// nothing.
    pub fn has_only_negations(&self) -> bool {
        !self.patterns.is_empty() && self.patterns.iter().all(Pattern::is_negated)
    }

    /// Tests `text` against the list: the last pattern whose body matches
    /// decides, a negated one excluding and a plain one including. Returns
    /// false when no pattern matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|pattern| pattern.is_match(text))
            .is_some_and(|pattern| !pattern.is_negated())
    }
}

impl FromIterator<Pattern> for PatternList {
    fn from_iter<I: IntoIterator<Item = Pattern>>(patterns: I) -> Self {
        Self {
            patterns: patterns.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).unwrap().is_match(text)
    }

    fn list_matches(patterns: &[&str], text: &str) -> bool {
        PatternList::new(patterns).unwrap().is_match(text)
    }

    #[test]
    fn overlong_pattern_is_rejected() {
        let pattern = format!("src/{}", "*a".repeat(600));
        let error = Pattern::new(&pattern).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid filter pattern \"src/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a...\" at character \
             1025: the pattern is 1204 characters long, more than the maximum of 1024; shorten it"
        );
    }

    #[test]
    fn pattern_at_maximum_length_matches() {
        let pattern = format!("{}*", "a".repeat(1023));
        let text = "a".repeat(5000);
        assert!(matches(&pattern, &text));
        assert!(!matches(&pattern, &text[..1022]));
    }

    #[test]
    fn star_stops_at_slash() {
        assert!(matches("feature/*", "feature/my-branch"));
        assert!(!matches("feature/*", "feature/beta-a/my-branch"));
        assert!(matches("*", "main"));
        assert!(!matches("*", "path/with/slash"));
        assert!(matches("*feature", "feature"));
        assert!(matches("*feature", "ver-10-feature"));
        assert!(matches("Octo*", "Octocat"));
        assert!(matches("v2*", "v2"));
        assert!(matches("v2*", "v2.9"));
    }

    #[test]
    fn double_star_crosses_slashes() {
        assert!(matches("feature/**", "feature/mona/the/octocat"));
        assert!(matches("**", "all/the/branches"));
        assert!(matches("**.js", "index.js"));
        assert!(matches("**.js", "src/js/app.js"));
        assert!(matches("docs/**", "docs/mona/octocat.txt"));
        assert!(!matches("docs/**", "other/docs/a.txt"));
    }

    #[test]
    fn leading_double_star_slash_matches_zero_directories() {
        assert!(matches("**/README.md", "README.md"));
        assert!(matches("**/README.md", "js/README.md"));
        assert!(!matches("**/README.md", "jsREADME.md"));
        assert!(matches("**/docs/**", "docs/hello.md"));
        assert!(matches("**/docs/**", "dir/docs/my-file.txt"));
        assert!(matches("**/docs/**", "space/docs/plan/space.doc"));
        assert!(matches("**/migrate-*.sql", "migrate-10909.sql"));
        assert!(matches("**/migrate-*.sql", "db/sept/migrate-v1.sql"));
        assert!(matches("**/*src/**", "my-src/code/js/app.js"));
        assert!(matches("**/*-post.md", "my-post.md"));
        assert!(matches("docs/**/*.md", "docs/README.md"));
        assert!(matches("docs/**/*.md", "docs/a/markdown/file.md"));
    }

    #[test]
    fn question_mark_makes_preceding_optional() {
        assert!(matches("*.jsx?", "page.js"));
        assert!(matches("*.jsx?", "page.jsx"));
        assert!(!matches("*.jsx?", "page.jsxx"));
        assert!(matches("Octoc?at", "Octoat"));
        assert!(matches("Octoc?at", "Octocat"));
        assert!(!matches("Octoc?at", "Octoccat"));
    }

    #[test]
    fn plus_repeats_preceding() {
        assert!(matches("v[12].[0-9]+.[0-9]+", "v1.10.1"));
        assert!(matches("v[12].[0-9]+.[0-9]+", "v2.0.0"));
        assert!(!matches("v[12].[0-9]+.[0-9]+", "v3.0.0"));
        assert!(!matches("v[12].[0-9]+.[0-9]+", "v1..0"));
        assert!(matches("ab+c", "abbbc"));
        assert!(!matches("ab+c", "ac"));
    }

    #[test]
    fn classes_and_ranges() {
        assert!(matches("[CB]at", "Cat"));
        assert!(matches("[CB]at", "Bat"));
        assert!(!matches("[CB]at", "Rat"));
        assert!(matches("[1-2]00", "100"));
        assert!(matches("[1-2]00", "200"));
        assert!(!matches("[1-2]00", "300"));
        assert!(matches("release/v[0-9].[0-9]", "release/v1.2"));
        assert!(matches("[0-9a-z]", "q"));
        assert!(!matches("[0-9a-z]", "Q"));
        assert!(matches("[._-]x", "-x"));
    }

    #[test]
    fn backslash_escapes() {
        assert!(matches("\\!file", "!file"));
        assert!(matches("escape\\\\backslash", "escape\\backslash"));
        assert!(matches("a\\+b", "a+b"));
        assert!(!matches("a\\+b", "aab"));
        assert!(matches("v1\\*", "v1*"));
        assert!(!matches("v1\\*", "v12"));
        assert!(matches("fix\\?", "fix?"));
        assert!(matches("\\[x]", "[x]"));
        assert!(!Pattern::new("\\!file").unwrap().is_negated());
    }

    #[test]
    fn dot_is_literal() {
        assert!(!matches(".yml", "fyml"));
        assert!(matches("v1.*", "v1.9.1"));
        assert!(!matches("v1.*", "v1x9"));
    }

    #[test]
    fn invalid_patterns_name_position() {
        let error = Pattern::new("+x").unwrap_err();
        assert_eq!(error.position, 1);
        assert!(error.reason.contains("nothing precedes it"), "{error}");

        let error = Pattern::new("!?x").unwrap_err();
        assert_eq!(error.position, 2);

        let error = Pattern::new("v[0-9").unwrap_err();
        assert_eq!(error.position, 2);
        assert!(error.reason.contains("never closed"), "{error}");

        let error = Pattern::new("a[]").unwrap_err();
        assert_eq!(error.position, 2);

        let error = Pattern::new("[a-Z]").unwrap_err();
        assert!(error.reason.contains("a-Z"), "{error}");

        let error = Pattern::new("[9-0]").unwrap_err();
        assert!(error.reason.contains("reversed"), "{error}");

        let error = Pattern::new("a++").unwrap_err();
        assert_eq!(error.position, 3);

        let error = Pattern::new("tail\\").unwrap_err();
        assert_eq!(error.position, 5);
        assert_eq!(
            error.to_string(),
            "invalid filter pattern \"tail\\\\\" at character 5: the pattern ends with `\\`, \
             which escapes nothing; write `\\\\` for a literal backslash"
        );
    }

    #[test]
    fn quantifier_after_star_is_harmless() {
        assert!(matches("a*?", "abc"));
        assert!(matches("a*+", "a"));
        assert!(matches("a**+", "a/b"));
    }

    #[test]
    fn list_last_match_wins() {
        let releases = ["releases/**", "!releases/**-alpha"];
        assert!(list_matches(&releases, "releases/10"));
        assert!(list_matches(&releases, "releases/beta/mona"));
        assert!(!list_matches(&releases, "releases/10-alpha"));
        assert!(!list_matches(&releases, "releases/beta/3-alpha"));

        let markdown = ["*.md", "!README.md", "README*"];
        assert!(list_matches(&markdown, "hello.md"));
        assert!(list_matches(&markdown, "README.md"));
        assert!(list_matches(&markdown, "README.doc"));
        assert!(!list_matches(&markdown, "docs/hello.md"));

        let excluded = ["*.md", "!README.md"];
        assert!(!list_matches(&excluded, "README.md"));
    }

    #[test]
    fn list_of_only_negations_matches_nothing() {
        let list = PatternList::new(&["!main", "!dev"]).unwrap();
        assert!(list.has_only_negations());
        assert!(!list.is_match("main"));
        assert!(!list.is_match("feature"));
        assert!(!PatternList::new::<&str>(&[]).unwrap().is_match("main"));
    }

    #[test]
    fn hostile_pattern_runs_in_linear_time() {
        // A backtracking matcher needs exponential time on this pair.
        let pattern = format!("{}b", "*a".repeat(40));
        let text = "a".repeat(100_000);
        assert!(!matches(&pattern, &text));

        let nested = format!("{}!", "a+".repeat(30));
        assert!(!matches(&nested, &"a".repeat(50_000)));
        assert!(matches(&"**a".repeat(20), &"a".repeat(10_000)));
    }
}
