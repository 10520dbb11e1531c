//! Trigger matching: which workflows run for an event.
//!
//! A workflow's `on:` names events, and each event may narrow itself with
//! filters. This module decides, for one [`Event`], whether a workflow
//! runs, following GitHub's documented rules:
//!
//! - `types` lists the activity types that trigger the workflow. Without
//!   it, `pull_request` and `pull_request_target` run only for `opened`,
//!   `synchronize` and `reopened`, and other events for every type.
//! - `branches` / `branches-ignore` and `tags` / `tags-ignore` match the
//!   ref's short name with [`crate::glob`] patterns. When only branch
//!   filters are set, pushes of tags do not run the workflow, and the
//!   other way round. When neither is set, every ref runs it. Pull request
//!   events match branch filters against the base branch.
//! - `paths` runs the workflow when at least one changed path matches the
//!   list. `paths-ignore` runs it unless every changed path is ignored.
//!   No changed paths means no run. Path filters are not evaluated for
//!   pushes of tags, and an unknown set of changed paths runs the workflow,
//!   as GitHub does when it cannot compute the diff.
//! - All filters of an event must pass, and the workflow runs when any of
//!   its events passes.
//!
//! [`validate_filter`] reports the combinations GitHub rejects, such as
//! `branches` together with `branches-ignore`.

use crate::glob::{GlobError, Pattern, PatternList};

/// Filters of one event under `on:` (`push`, `pull_request`, ...). `None`
/// means the key is absent, which GitHub treats differently from an empty
/// list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub types: Option<Vec<String>>,
    pub branches: Option<Vec<String>>,
    pub branches_ignore: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub tags_ignore: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
    pub paths_ignore: Option<Vec<String>>,
}

/// An event that may trigger workflows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// Event name as written under `on:`, such as `push` or `pull_request`.
    pub name: String,
    /// The full Git ref, such as `refs/heads/main` or `refs/tags/v1`. For
    /// `workflow_run` this is the head branch of the triggering run.
    pub git_ref: Option<String>,
    /// For pull request events, the branch the pull request targets, as a
    /// full ref or a bare branch name. Branch filters match this ref.
    pub base_ref: Option<String>,
    /// The activity type (`opened`, `synchronize`, ...), when the event
    /// has one.
    pub activity_type: Option<String>,
    /// Paths changed by the push or pull request, relative to the
    /// repository root. `None` means unknown.
    pub changed_paths: Option<Vec<String>>,
}

impl Event {
    /// Creates a `push` of `git_ref` with unknown changed paths.
    pub fn push(git_ref: &str) -> Self {
        Self {
            name: "push".to_string(),
            git_ref: Some(git_ref.to_string()),
            ..Self::default()
        }
    }

    /// Creates a `pull_request` event targeting `base_ref`, with activity
    /// type `action`.
    pub fn pull_request(base_ref: &str, action: &str) -> Self {
        Self {
            name: "pull_request".to_string(),
            base_ref: Some(base_ref.to_string()),
            activity_type: Some(action.to_string()),
            ..Self::default()
        }
    }

    /// Sets the changed paths.
    pub fn with_changed_paths<S: AsRef<str>>(mut self, paths: &[S]) -> Self {
        self.changed_paths = Some(paths.iter().map(|path| path.as_ref().to_string()).collect());
        self
    }
}

/// Errors in an event's filters, found by [`validate_filter`] or when
/// compiling a filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error(
        "on.{event} sets both `{key}` and `{ignore_key}`, which GitHub rejects; keep `{key}` \
         and write the exclusions in it with a leading `!`"
    )]
    Conflicting {
        event: String,
        key: &'static str,
        ignore_key: &'static str,
    },

    #[error(
        "on.{event}.{key} contains only `!` patterns, so it matches nothing; add a positive \
         pattern such as '**' before them, or use `{key}-ignore`"
    )]
    OnlyNegations { event: String, key: &'static str },

    #[error("on.{event}.{key}[{index}] is invalid: {error}")]
    InvalidPattern {
        event: String,
        key: &'static str,
        index: usize,
        error: Box<GlobError>,
    },

    #[error("on.{event}.{key} is not supported; GitHub accepts `{key}` only for {supported}")]
    Unsupported {
        event: String,
        key: &'static str,
        supported: &'static str,
    },
}

impl TriggerError {
    /// Returns the event name under `on:` that contains the error.
    pub fn event(&self) -> &str {
        match self {
            TriggerError::Conflicting { event, .. }
            | TriggerError::OnlyNegations { event, .. }
            | TriggerError::InvalidPattern { event, .. }
            | TriggerError::Unsupported { event, .. } => event,
        }
    }

    /// Returns the filter key a diagnostic should point at. For a conflict
    /// this is the `-ignore` key.
    pub fn key(&self) -> &'static str {
        match self {
            TriggerError::Conflicting { ignore_key, .. } => ignore_key,
            TriggerError::OnlyNegations { key, .. }
            | TriggerError::InvalidPattern { key, .. }
            | TriggerError::Unsupported { key, .. } => key,
        }
    }
}

/// An include key and its list, then the matching `-ignore` key and list.
type FilterPair<'a> = (
    &'static str,
    &'a Option<Vec<String>>,
    &'static str,
    &'a Option<Vec<String>>,
);

/// Events that accept `branches` / `branches-ignore`.
const BRANCH_EVENTS: &[&str] = &[
    "push",
    "pull_request",
    "pull_request_target",
    "workflow_run",
    "merge_group",
];
const BRANCH_EVENTS_TEXT: &str =
    "push, pull_request, pull_request_target, workflow_run and merge_group";

/// Events that accept `paths` / `paths-ignore`.
const PATH_EVENTS: &[&str] = &["push", "pull_request", "pull_request_target"];
const PATH_EVENTS_TEXT: &str = "push, pull_request and pull_request_target";

/// Activity types that trigger `event` when `types` is absent, or `None`
/// when every type does.
pub fn default_activity_types(event: &str) -> Option<&'static [&'static str]> {
    match event {
        "pull_request" | "pull_request_target" => Some(&["opened", "synchronize", "reopened"]),
        _ => None,
    }
}

/// Lists everything GitHub rejects in one event's filters. An empty list
/// means the filter is valid.
pub fn validate_filter(event: &str, filter: &EventFilter) -> Vec<TriggerError> {
    let mut errors = Vec::new();
    let pairs: [FilterPair; 3] = [
        (
            "branches",
            &filter.branches,
            "branches-ignore",
            &filter.branches_ignore,
        ),
        ("tags", &filter.tags, "tags-ignore", &filter.tags_ignore),
        ("paths", &filter.paths, "paths-ignore", &filter.paths_ignore),
    ];
    for (key, include, ignore_key, ignore) in pairs {
        if include.is_some() && ignore.is_some() {
            errors.push(TriggerError::Conflicting {
                event: event.to_string(),
                key,
                ignore_key,
            });
        }
        check_support(event, key, include, &mut errors);
        check_support(event, ignore_key, ignore, &mut errors);
        if let Some(patterns) = include {
            check_patterns(event, key, patterns, true, &mut errors);
        }
        if let Some(patterns) = ignore {
            check_patterns(event, ignore_key, patterns, false, &mut errors);
        }
    }
    errors
}

fn check_support(
    event: &str,
    key: &'static str,
    value: &Option<Vec<String>>,
    errors: &mut Vec<TriggerError>,
) {
    if value.is_none() {
        return;
    }
    let (events, supported) = match key {
        "branches" | "branches-ignore" => (BRANCH_EVENTS, BRANCH_EVENTS_TEXT),
        "tags" | "tags-ignore" => (&["push"][..], "push"),
        _ => (PATH_EVENTS, PATH_EVENTS_TEXT),
    };
    if !events.contains(&event) {
        errors.push(TriggerError::Unsupported {
            event: event.to_string(),
            key,
            supported,
        });
    }
}

fn check_patterns(
    event: &str,
    key: &'static str,
    patterns: &[String],
    reject_only_negations: bool,
    errors: &mut Vec<TriggerError>,
) {
    for (index, pattern) in patterns.iter().enumerate() {
        if let Err(error) = Pattern::new(pattern) {
            errors.push(TriggerError::InvalidPattern {
                event: event.to_string(),
                key,
                index,
                error: Box::new(error),
            });
        }
    }
    let only_negations = !patterns.is_empty() && patterns.iter().all(|p| p.starts_with('!'));
    if reject_only_negations && only_negations {
        errors.push(TriggerError::OnlyNegations {
            event: event.to_string(),
            key,
        });
    }
}

/// One event's filters with every pattern compiled.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    event: String,
    types: Option<Vec<String>>,
    branches: Option<PatternList>,
    branches_ignore: Option<PatternList>,
    tags: Option<PatternList>,
    tags_ignore: Option<PatternList>,
    paths: Option<PatternList>,
    paths_ignore: Option<PatternList>,
}

impl CompiledFilter {
    /// Compiles the patterns of the filter for event `event`.
    pub fn new(event: &str, filter: &EventFilter) -> Result<Self, TriggerError> {
        let compile = |key: &'static str, patterns: &Option<Vec<String>>| {
            compile_list(event, key, patterns.as_deref())
        };
        Ok(Self {
            event: event.to_string(),
            types: filter.types.clone(),
            branches: compile("branches", &filter.branches)?,
            branches_ignore: compile("branches-ignore", &filter.branches_ignore)?,
            tags: compile("tags", &filter.tags)?,
            tags_ignore: compile("tags-ignore", &filter.tags_ignore)?,
            paths: compile("paths", &filter.paths)?,
            paths_ignore: compile("paths-ignore", &filter.paths_ignore)?,
        })
    }

    /// Decides whether `event` passes this filter.
    pub fn matches(&self, event: &Event) -> bool {
        event.name == self.event
            && self.type_matches(event)
            && self.ref_matches(event)
            && self.paths_match(event)
    }

    fn type_matches(&self, event: &Event) -> bool {
        let Some(activity) = &event.activity_type else {
            return true;
        };
        match (&self.types, default_activity_types(&self.event)) {
            (Some(types), _) => types.iter().any(|allowed| allowed == activity),
            (None, Some(defaults)) => defaults.contains(&activity.as_str()),
            (None, None) => true,
        }
    }

    fn ref_matches(&self, event: &Event) -> bool {
        let has_branch_filter = self.branches.is_some() || self.branches_ignore.is_some();
        let has_tag_filter = self.tags.is_some() || self.tags_ignore.is_some();
        if !has_branch_filter && !has_tag_filter {
            return true;
        }
        let is_pull_request = matches!(self.event.as_str(), "pull_request" | "pull_request_target");
        let git_ref = if is_pull_request {
            event.base_ref.as_ref().or(event.git_ref.as_ref())
        } else {
            event.git_ref.as_ref()
        };
        // NOTE: with filters set and no known ref the workflow does not
        // run, so an unknown ref never widens what a filter allows.
        match git_ref.map(|git_ref| classify_ref(git_ref, is_pull_request)) {
            Some(RefName::Branch(name)) => {
                has_branch_filter && list_passes(&self.branches, &self.branches_ignore, name)
            }
            Some(RefName::Tag(name)) => {
                has_tag_filter && list_passes(&self.tags, &self.tags_ignore, name)
            }
            Some(RefName::Other) | None => false,
        }
    }

    fn paths_match(&self, event: &Event) -> bool {
        if self.paths.is_none() && self.paths_ignore.is_none() {
            return true;
        }
        let is_tag_push = self.event == "push"
            && event
                .git_ref
                .as_deref()
                .is_some_and(|git_ref| git_ref.starts_with("refs/tags/"));
        if is_tag_push {
            return true;
        }
        let Some(changed) = &event.changed_paths else {
            return true;
        };
        if let Some(paths) = &self.paths {
            return changed.iter().any(|path| paths.is_match(path));
        }
        if let Some(ignore) = &self.paths_ignore {
            return changed.iter().any(|path| !ignore.is_match(path));
        }
        true
    }
}

fn compile_list(
    event: &str,
    key: &'static str,
    patterns: Option<&[String]>,
) -> Result<Option<PatternList>, TriggerError> {
    let Some(patterns) = patterns else {
        return Ok(None);
    };
    let compiled = patterns
        .iter()
        .enumerate()
        .map(|(index, pattern)| {
            Pattern::new(pattern).map_err(|error| TriggerError::InvalidPattern {
                event: event.to_string(),
                key,
                index,
                error: Box::new(error),
            })
        })
        .collect::<Result<PatternList, _>>()?;
    Ok(Some(compiled))
}

/// Applies an include list or an ignore list (at most one is set when the
/// filter is valid; with both, both must pass).
fn list_passes(include: &Option<PatternList>, ignore: &Option<PatternList>, name: &str) -> bool {
    let included = include.as_ref().is_none_or(|list| list.is_match(name));
    let ignored = ignore.as_ref().is_some_and(|list| list.is_match(name));
    included && !ignored
}

enum RefName<'a> {
    Branch(&'a str),
    Tag(&'a str),
    Other,
}

/// Splits a full ref into its kind and short name. A bare name counts as
/// a branch only for the base branch of a pull request.
fn classify_ref(git_ref: &str, bare_is_branch: bool) -> RefName<'_> {
    if let Some(name) = git_ref.strip_prefix("refs/heads/") {
        RefName::Branch(name)
    } else if let Some(name) = git_ref.strip_prefix("refs/tags/") {
        RefName::Tag(name)
    } else if bare_is_branch && !git_ref.starts_with("refs/") {
        RefName::Branch(git_ref)
    } else {
        RefName::Other
    }
}

/// Decides whether the event named `name` with filter `filter` under
/// `on:` triggers for `event`.
pub fn event_matches(
    name: &str,
    filter: &EventFilter,
    event: &Event,
) -> Result<bool, TriggerError> {
    Ok(CompiledFilter::new(name, filter)?.matches(event))
}

/// Decides whether a workflow whose `on:` lists `events` (event name and
/// filter, in file order) runs for `event`: true when any entry matches.
pub fn workflow_matches<'a, I>(events: I, event: &Event) -> Result<bool, TriggerError>
where
    I: IntoIterator<Item = (&'a str, &'a EventFilter)>,
{
    for (name, filter) in events {
        if name == event.name && event_matches(name, filter, event)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Decides whether a loaded workflow's `on:` section triggers for `event`.
pub fn on_matches(on: &crate::model::On, event: &Event) -> Result<bool, TriggerError> {
    let events = on
        .triggers
        .iter()
        .map(|trigger| (trigger.event.as_str(), &trigger.filter));
    workflow_matches(events, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(patterns: &[&str]) -> Option<Vec<String>> {
        Some(patterns.iter().map(|pattern| pattern.to_string()).collect())
    }

    fn runs(name: &str, filter: &EventFilter, event: &Event) -> bool {
        event_matches(name, filter, event).unwrap()
    }

    #[test]
    fn push_without_filters_runs_for_branches_and_tags() {
        let filter = EventFilter::default();
        assert!(runs("push", &filter, &Event::push("refs/heads/main")));
        assert!(runs("push", &filter, &Event::push("refs/tags/v1")));
    }

    #[test]
    fn other_event_name_never_matches() {
        let filter = EventFilter::default();
        assert!(!runs(
            "pull_request",
            &filter,
            &Event::push("refs/heads/main")
        ));
    }

    #[test]
    fn documented_branches_and_tags_example() {
        let filter = EventFilter {
            branches: list(&["main", "mona/octocat", "releases/**"]),
            tags: list(&["v2", "v1.*"]),
            ..EventFilter::default()
        };
        for git_ref in [
            "refs/heads/main",
            "refs/heads/mona/octocat",
            "refs/heads/releases/10",
            "refs/tags/v2",
            "refs/tags/v1.9.1",
        ] {
            assert!(runs("push", &filter, &Event::push(git_ref)), "{git_ref}");
        }
        assert!(!runs("push", &filter, &Event::push("refs/heads/dev")));
        assert!(!runs("push", &filter, &Event::push("refs/tags/v3")));
    }

    #[test]
    fn documented_ignore_example() {
        let filter = EventFilter {
            branches_ignore: list(&["mona/octocat", "releases/**-alpha"]),
            tags_ignore: list(&["v2", "v1.*"]),
            ..EventFilter::default()
        };
        assert!(runs("push", &filter, &Event::push("refs/heads/main")));
        assert!(runs("push", &filter, &Event::push("refs/tags/v3")));
        assert!(!runs(
            "push",
            &filter,
            &Event::push("refs/heads/mona/octocat")
        ));
        assert!(!runs(
            "push",
            &filter,
            &Event::push("refs/heads/releases/beta/3-alpha")
        ));
        assert!(!runs("push", &filter, &Event::push("refs/tags/v2")));
        assert!(!runs("push", &filter, &Event::push("refs/tags/v1.9")));
    }

    #[test]
    fn documented_negation_example() {
        let filter = EventFilter {
            branches: list(&["releases/**", "!releases/**-alpha"]),
            ..EventFilter::default()
        };
        assert!(runs(
            "push",
            &filter,
            &Event::push("refs/heads/releases/10")
        ));
        assert!(runs(
            "push",
            &filter,
            &Event::push("refs/heads/releases/beta/mona")
        ));
        assert!(!runs(
            "push",
            &filter,
            &Event::push("refs/heads/releases/10-alpha")
        ));
        assert!(!runs(
            "push",
            &filter,
            &Event::push("refs/heads/releases/beta/3-alpha")
        ));
    }

    #[test]
    fn only_branch_filters_skip_tag_pushes() {
        let filter = EventFilter {
            branches: list(&["**"]),
            ..EventFilter::default()
        };
        assert!(runs("push", &filter, &Event::push("refs/heads/main")));
        assert!(!runs("push", &filter, &Event::push("refs/tags/v1")));

        let ignore = EventFilter {
            branches_ignore: list(&["dev"]),
            ..EventFilter::default()
        };
        assert!(!runs("push", &ignore, &Event::push("refs/tags/v1")));
    }

    #[test]
    fn only_tag_filters_skip_branch_pushes() {
        let filter = EventFilter {
            tags: list(&["v*"]),
            ..EventFilter::default()
        };
        assert!(runs("push", &filter, &Event::push("refs/tags/v1")));
        assert!(!runs("push", &filter, &Event::push("refs/heads/main")));

        let ignore = EventFilter {
            tags_ignore: list(&["nightly"]),
            ..EventFilter::default()
        };
        assert!(!runs("push", &ignore, &Event::push("refs/heads/main")));
        assert!(runs("push", &ignore, &Event::push("refs/tags/v1")));
        assert!(!runs("push", &ignore, &Event::push("refs/tags/nightly")));
    }

    #[test]
    fn unknown_or_other_ref_fails_filters() {
        let filter = EventFilter {
            branches: list(&["**"]),
            ..EventFilter::default()
        };
        let mut event = Event::push("refs/pull/1/merge");
        assert!(!runs("push", &filter, &event));
        event.git_ref = None;
        assert!(!runs("push", &filter, &event));
        assert!(runs("push", &EventFilter::default(), &event));
    }

    #[test]
    fn pull_request_matches_base_branch() {
        let filter = EventFilter {
            branches: list(&["main", "releases/**"]),
            ..EventFilter::default()
        };
        let mut event = Event::pull_request("main", "opened");
        event.git_ref = Some("refs/pull/7/merge".to_string());
        assert!(runs("pull_request", &filter, &event));
        assert!(runs(
            "pull_request",
            &filter,
            &Event::pull_request("refs/heads/releases/2", "opened")
        ));
        assert!(!runs(
            "pull_request",
            &filter,
            &Event::pull_request("dev", "opened")
        ));
    }

    #[test]
    fn pull_request_default_types() {
        let filter = EventFilter::default();
        for action in ["opened", "synchronize", "reopened"] {
            assert!(runs(
                "pull_request",
                &filter,
                &Event::pull_request("main", action)
            ));
        }
        for action in ["closed", "labeled", "edited"] {
            assert!(!runs(
                "pull_request",
                &filter,
                &Event::pull_request("main", action)
            ));
        }
        let mut target = Event::pull_request("main", "closed");
        target.name = "pull_request_target".to_string();
        assert!(!runs("pull_request_target", &filter, &target));
    }

    #[test]
    fn explicit_types_replace_defaults() {
        let filter = EventFilter {
            types: list(&["closed", "labeled"]),
            ..EventFilter::default()
        };
        assert!(runs(
            "pull_request",
            &filter,
            &Event::pull_request("main", "closed")
        ));
        assert!(!runs(
            "pull_request",
            &filter,
            &Event::pull_request("main", "opened")
        ));

        let issue = Event {
            name: "issues".to_string(),
            activity_type: Some("opened".to_string()),
            ..Event::default()
        };
        assert!(runs("issues", &EventFilter::default(), &issue));
        let only_closed = EventFilter {
            types: list(&["closed"]),
            ..EventFilter::default()
        };
        assert!(!runs("issues", &only_closed, &issue));
    }

    #[test]
    fn documented_paths_example() {
        let filter = EventFilter {
            paths: list(&["sub-project/**", "!sub-project/docs/**"]),
            ..EventFilter::default()
        };
        let event = |paths: &[&str]| Event::push("refs/heads/main").with_changed_paths(paths);
        assert!(runs("push", &filter, &event(&["sub-project/index.js"])));
        assert!(runs("push", &filter, &event(&["sub-project/src/index.js"])));
        assert!(!runs(
            "push",
            &filter,
            &event(&["sub-project/docs/readme.md"])
        ));
        assert!(runs(
            "push",
            &filter,
            &event(&["sub-project/docs/readme.md", "sub-project/a.js"])
        ));
        assert!(!runs("push", &filter, &event(&["README.md"])));
        assert!(!runs("push", &filter, &event(&[])));
    }

    #[test]
    fn documented_paths_ignore_example() {
        let filter = EventFilter {
            paths_ignore: list(&["docs/**"]),
            ..EventFilter::default()
        };
        let event = |paths: &[&str]| Event::push("refs/heads/main").with_changed_paths(paths);
        assert!(!runs(
            "push",
            &filter,
            &event(&["docs/a.md", "docs/b/c.md"])
        ));
        assert!(runs("push", &filter, &event(&["docs/a.md", "src/main.rs"])));
        assert!(!runs("push", &filter, &event(&[])));
    }

    #[test]
    fn unknown_paths_and_tag_pushes_skip_path_filters() {
        let filter = EventFilter {
            paths: list(&["src/**"]),
            ..EventFilter::default()
        };
        assert!(runs("push", &filter, &Event::push("refs/heads/main")));
        let tag = Event::push("refs/tags/v1").with_changed_paths(&["README.md"]);
        assert!(runs("push", &filter, &tag));
    }

    #[test]
    fn branch_and_path_filters_must_both_pass() {
        let filter = EventFilter {
            branches: list(&["main"]),
            paths: list(&["src/**"]),
            ..EventFilter::default()
        };
        let main_src = Event::push("refs/heads/main").with_changed_paths(&["src/lib.rs"]);
        let main_doc = Event::push("refs/heads/main").with_changed_paths(&["doc.md"]);
        let dev_src = Event::push("refs/heads/dev").with_changed_paths(&["src/lib.rs"]);
        assert!(runs("push", &filter, &main_src));
        assert!(!runs("push", &filter, &main_doc));
        assert!(!runs("push", &filter, &dev_src));
    }

    #[test]
    fn workflow_runs_when_any_event_matches() {
        let push = EventFilter {
            branches: list(&["main"]),
            ..EventFilter::default()
        };
        let pull_request = EventFilter::default();
        let on = [("push", &push), ("pull_request", &pull_request)];
        let matches = |event: &Event| workflow_matches(on.iter().map(|(n, f)| (*n, *f)), event);
        assert_eq!(matches(&Event::push("refs/heads/main")), Ok(true));
        assert_eq!(matches(&Event::push("refs/heads/dev")), Ok(false));
        assert_eq!(matches(&Event::pull_request("dev", "opened")), Ok(true));
        let dispatch = Event {
            name: "workflow_dispatch".to_string(),
            ..Event::default()
        };
        assert_eq!(matches(&dispatch), Ok(false));
    }

    #[test]
    fn invalid_pattern_is_an_error() {
        let filter = EventFilter {
            branches: list(&["main", "v[0-9"]),
            ..EventFilter::default()
        };
        let error = event_matches("push", &filter, &Event::push("refs/heads/main")).unwrap_err();
        assert_eq!(error.key(), "branches");
        assert_eq!(
            error.to_string(),
            "on.push.branches[1] is invalid: invalid filter pattern \"v[0-9\" at character 2: \
             `[` opens a character class that is never closed; add `]` or escape it as `\\[`"
        );
    }

    #[test]
    fn validate_reports_conflicts() {
        let filter = EventFilter {
            branches: list(&["main"]),
            branches_ignore: list(&["dev"]),
            tags: list(&["v*"]),
            tags_ignore: list(&["v0*"]),
            paths: list(&["src/**"]),
            paths_ignore: list(&["docs/**"]),
            ..EventFilter::default()
        };
        let errors = validate_filter("push", &filter);
        let keys: Vec<&str> = errors.iter().map(TriggerError::key).collect();
        assert_eq!(keys, ["branches-ignore", "tags-ignore", "paths-ignore"]);
        assert_eq!(
            errors[0].to_string(),
            "on.push sets both `branches` and `branches-ignore`, which GitHub rejects; keep \
             `branches` and write the exclusions in it with a leading `!`"
        );
        assert_eq!(errors[0].event(), "push");
    }

    #[test]
    fn validate_reports_only_negations() {
        let filter = EventFilter {
            branches: list(&["!main"]),
            paths_ignore: list(&["!docs/**"]),
            ..EventFilter::default()
        };
        let errors = validate_filter("push", &filter);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0],
            TriggerError::OnlyNegations {
                event: "push".to_string(),
                key: "branches"
            }
        );
    }

    #[test]
    fn validate_reports_unsupported_keys() {
        let filter = EventFilter {
            tags: list(&["v*"]),
            paths: list(&["src/**"]),
            ..EventFilter::default()
        };
        let errors = validate_filter("pull_request", &filter);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "on.pull_request.tags is not supported; GitHub accepts `tags` only for push"
        );
        let branches = EventFilter {
            branches: list(&["main"]),
            ..EventFilter::default()
        };
        assert_eq!(validate_filter("workflow_dispatch", &branches).len(), 1);
        assert!(validate_filter("workflow_run", &branches).is_empty());
    }

    #[test]
    fn validate_reports_invalid_patterns() {
        let filter = EventFilter {
            paths: list(&["src/**", "+x"]),
            ..EventFilter::default()
        };
        let errors = validate_filter("push", &filter);
        assert_eq!(errors.len(), 1);
        assert!(matches!(
            &errors[0],
            TriggerError::InvalidPattern {
                key: "paths",
                index: 1,
                ..
            }
        ));
    }
}
