//! Reconciling an execution claim whose executor stopped (a crash, a kill,
//! a lost host) before it recorded the outcome: from what can be observed
//! now and when the claim was made, what happened.
//!
//! A restart leaves a trace in its container's start time; a recreate, a
//! new container of the service. What cannot be told is recorded as
//! unknown, never guessed as done.

use super::RequestState;
use crate::incident::stamp;
use time::OffsetDateTime;

/// A container as found by the reconciler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub name: String,
    pub running: bool,
    pub started_at: Option<OffsetDateTime>,
}

/// What the reconciler could observe of a claimed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// A restart: the requested container as it is now (`None`: gone).
    Restart { container: Option<Seen> },
    /// A recreate: the requested (old) container as it is now, and the
    /// service's running containers started after the claim.
    Recreate { old: Option<Seen>, newer: Vec<Seen> },
    /// Nothing outside records whether it ran (closing database sessions).
    Unobservable,
}

const STOPPED: &str = "the bot that was executing it stopped before recording the outcome";

/// The state and outcome sentence to record for a claim made at
/// `claimed_at`, given what is observed now.
pub fn reconcile(observed: &Observed, claimed_at: OffsetDateTime) -> (RequestState, String) {
    let after_claim = |c: &Seen| c.started_at.is_some_and(|t| t >= claimed_at);
    let state_of = |c: &Seen| if c.running { "running" } else { "NOT running" };
    match observed {
        Observed::Restart {
            container: Some(c),
        } if after_claim(c) => (
            RequestState::Executed,
            format!(
                "{} was restarted at {} and is {}; {STOPPED}",
                c.name,
                stamp(c.started_at.unwrap_or(claimed_at)),
                state_of(c)
            ),
        ),
        Observed::Restart {
            container: Some(c),
        } => (
            RequestState::Failed,
            format!(
                "{} was not restarted (it has been {} since {}, before the approval); {STOPPED}. Make a new request if it is still needed",
                c.name,
                state_of(c),
                c.started_at.map_or("an unknown time".into(), stamp)
            ),
        ),
        Observed::Restart { container: None } => (
            RequestState::Unknown,
            format!("{STOPPED}, and the container no longer exists: whether it was restarted cannot be told"),
        ),
        Observed::Recreate { newer, .. } if newer.len() == 1 => {
            let new = &newer[0];
            (
                RequestState::Executed,
                format!(
                    "the container was recreated as {} at {}, {}; {STOPPED}",
                    new.name,
                    stamp(new.started_at.unwrap_or(claimed_at)),
                    state_of(new)
                ),
            )
        }
        Observed::Recreate {
            old: Some(old),
            newer,
        } if newer.is_empty() && old.running => (
            RequestState::Failed,
            format!(
                "{} was not recreated (it still runs as before); {STOPPED}. Make a new request if it is still needed",
                old.name
            ),
        ),
        Observed::Recreate { old, newer } => (
            RequestState::Unknown,
            format!(
                "{STOPPED}; found {} and {} newer container(s) of the service: check the service by hand",
                old.as_ref()
                    .map_or("the old container gone".into(), |o| format!(
                        "{} {}",
                        o.name,
                        state_of(o)
                    )),
                newer.len()
            ),
        ),
        Observed::Unobservable => (
            RequestState::Unknown,
            format!("{STOPPED}; whether it ran cannot be told from outside"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const CLAIM: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn seen(name: &str, running: bool, started: OffsetDateTime) -> Seen {
        Seen {
            name: name.into(),
            running,
            started_at: Some(started),
        }
    }

    fn check(observed: Observed, state: RequestState, says: &str) {
        let (got, text) = reconcile(&observed, CLAIM);
        assert_eq!(got, state, "{text}");
        assert!(text.contains(says), "{text:?} lacks {says:?}");
    }

    #[test]
    fn what_a_stopped_executor_left_behind() {
        let before = datetime!(2026-03-01 11:00 UTC);
        let after = datetime!(2026-03-01 12:00:03 UTC);
        check(
            Observed::Restart {
                container: Some(seen("web-1", true, after)),
            },
            RequestState::Executed,
            "web-1 was restarted at",
        );
        check(
            Observed::Restart {
                container: Some(seen("web-1", true, before)),
            },
            RequestState::Failed,
            "web-1 was not restarted",
        );
        check(
            Observed::Restart { container: None },
            RequestState::Unknown,
            "no longer exists",
        );
        check(
            Observed::Recreate {
                old: None,
                newer: vec![seen("worker-1", true, after)],
            },
            RequestState::Executed,
            "recreated as worker-1",
        );
        check(
            Observed::Recreate {
                old: Some(seen("worker-1", true, before)),
                newer: vec![],
            },
            RequestState::Failed,
            "was not recreated",
        );
        check(
            Observed::Recreate {
                old: Some(seen("worker-1", false, before)),
                newer: vec![],
            },
            RequestState::Unknown,
            "check the service by hand",
        );
        check(
            Observed::Unobservable,
            RequestState::Unknown,
            "cannot be told",
        );
    }
}
