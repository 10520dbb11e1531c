//! The status of a job, a step or a whole commit.
//!
//! A status is one of the six values that other software reads from a
//! result (`queued`, `running`, `success`, `failure`, `cancelled`,
//! `skipped`), serialized in lower case.
//!
//! Statuses also have a severity, used to summarize many results as one.
//! From worst to best:
//!
//! ```text
//! failure > cancelled > running > queued > success > skipped
//! ```
//!
//! A commit whose jobs ended `success`, `failure` and `skipped` is a
//! `failure`; a commit with a job still `running` is not yet a `success`;
//! a skipped job never makes a successful commit look worse.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a job, a step or a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting to start.
    Queued,
    /// Started and not yet finished.
    Running,
    /// Finished without error.
    Success,
    /// Finished with an error or a non-zero exit code.
    Failure,
    /// Stopped before it finished, for example by a user or a signal.
    Cancelled,
    /// Not run, because its `if:` condition was false or a job it needs did
    /// not succeed.
    Skipped,
}

impl Status {
    /// Every status, from worst to best.
    pub const WORST_FIRST: [Status; 6] = [
        Status::Failure,
        Status::Cancelled,
        Status::Running,
        Status::Queued,
        Status::Success,
        Status::Skipped,
    ];

    /// Returns the severity rank: higher is worse (`skipped` is 0,
    /// `failure` is 5).
    pub fn severity(self) -> u8 {
        match self {
            Status::Skipped => 0,
            Status::Success => 1,
            Status::Queued => 2,
            Status::Running => 3,
            Status::Cancelled => 4,
            Status::Failure => 5,
        }
    }

    /// Returns the worse of two statuses.
    pub fn worse(self, other: Status) -> Status {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// Returns the worst status of a sequence, or `None` when it is empty.
    pub fn worst<I: IntoIterator<Item = Status>>(statuses: I) -> Option<Status> {
        statuses.into_iter().reduce(Status::worse)
    }

    /// Compares by severity so that sorting with this puts the worst first.
    pub fn cmp_worst_first(a: &Status, b: &Status) -> Ordering {
        b.severity().cmp(&a.severity())
    }

    /// Returns true for a status that will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Status::Success | Status::Failure | Status::Cancelled | Status::Skipped
        )
    }

    /// Returns true for `failure` and `cancelled`, the statuses that make
    /// `htci run` exit non-zero.
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, Status::Failure | Status::Cancelled)
    }

    /// Returns the lower-case name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Status {
    /// Writes the lower-case name, honouring width and alignment such as
    /// `{:<9}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Error for a string that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid status {0:?}: expected one of queued, running, success, failure, cancelled, skipped"
)]
pub struct ParseStatusError(pub String);

impl FromStr for Status {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::WORST_FIRST
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_uses_lowercase_names() {
        for status in Status::WORST_FIRST {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            let back: Status = serde_json::from_str(&json).unwrap();
            assert_eq!(back, status);
        }
        assert_eq!(
            serde_json::to_string(&Status::Cancelled).unwrap(),
            "\"cancelled\""
        );
    }

    #[test]
    fn serde_rejects_other_case() {
        let parsed: Result<Status, _> = serde_json::from_str("\"Success\"");
        assert!(parsed.is_err());
    }

    #[test]
    fn worst_order_is_documented_order() {
        let mut all = vec![
            Status::Success,
            Status::Skipped,
            Status::Queued,
            Status::Failure,
            Status::Running,
            Status::Cancelled,
        ];
        all.sort_by(Status::cmp_worst_first);
        assert_eq!(all, Status::WORST_FIRST.to_vec());
    }

    #[test]
    fn worst_of_mixed_statuses() {
        use Status::*;
        assert_eq!(Status::worst([Success, Failure, Skipped]), Some(Failure));
        assert_eq!(Status::worst([Success, Skipped]), Some(Success));
        assert_eq!(Status::worst([Skipped, Skipped]), Some(Skipped));
        assert_eq!(Status::worst([Success, Running]), Some(Running));
        assert_eq!(Status::worst([Cancelled, Running]), Some(Cancelled));
        assert_eq!(Status::worst([Queued, Success]), Some(Queued));
        assert_eq!(Status::worst([]), None);
    }

    #[test]
    fn worse_keeps_first_on_tie() {
        assert_eq!(Status::Success.worse(Status::Success), Status::Success);
        assert_eq!(Status::Skipped.worse(Status::Success), Status::Success);
        assert_eq!(Status::Failure.worse(Status::Cancelled), Status::Failure);
    }

    #[test]
    fn display_honours_width() {
        assert_eq!(format!("{:<9}|", Status::Failure), "failure  |");
        assert_eq!(format!("{}", Status::Skipped), "skipped");
    }

    #[test]
    fn parse_from_str() {
        assert_eq!("failure".parse::<Status>(), Ok(Status::Failure));
        let err = "failed".parse::<Status>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid status \"failed\": expected one of queued, running, success, failure, cancelled, skipped"
        );
    }

    #[test]
    fn finished_and_unsuccessful() {
        assert!(!Status::Queued.is_finished());
        assert!(!Status::Running.is_finished());
        assert!(Status::Skipped.is_finished());
        assert!(Status::Failure.is_unsuccessful());
        assert!(Status::Cancelled.is_unsuccessful());
        assert!(!Status::Skipped.is_unsuccessful());
    }
}
