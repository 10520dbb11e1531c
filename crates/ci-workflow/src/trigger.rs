//! Trigger matching: which workflows run for an event.

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
