//! Did an OOM kill take the service down? The runbook's "if OOM causing
//! downtime, escalate immediately", judged look by look while a container
//! is watched after a kill:
//!
//! - restarted at least twice within the grace window: a crash loop, seen
//!   from the engine's restart count as soon as the second restart
//!   happens, not from one look at the end;
//! - not running with no restart policy: nothing will bring it back;
//! - still not running (or restarting) when the grace window after its
//!   latest kill has passed, or gone altogether.

use crate::incident::stamp;
use time::{Duration, OffsetDateTime};

/// One container watched after an OOM kill; later kills extend it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub first_kill: OffsetDateTime,
    pub last_kill: OffsetDateTime,
    /// When each restart since the first kill was seen to have started.
    pub restarts: Vec<OffsetDateTime>,
    /// The engine's restart count at the previous look.
    pub counted: Option<i64>,
}

impl Watch {
    pub fn new(kill: OffsetDateTime) -> Watch {
        Watch {
            first_kill: kill,
            last_kill: kill,
            restarts: Vec::new(),
            counted: None,
        }
    }

    /// Another kill of the same container.
    pub fn killed_again(&mut self, at: OffsetDateTime) {
        self.last_kill = self.last_kill.max(at);
    }
}

/// The container as one look found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The engine could not be asked.
    Unreachable,
    /// It no longer exists.
    Gone,
    Container {
        running: bool,
        restarting: bool,
        started_at: Option<OffsetDateTime>,
        /// `RestartCount`: restarts by the engine's restart policy.
        restart_count: i64,
        /// "no" (or empty), "always", "unless-stopped", "on-failure".
        restart_policy: String,
    },
}

/// What a look concludes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Down: escalate at once, for this reason.
    Down(String),
    /// It runs again within the grace window: no downtime.
    Up,
    /// The engine has not answered for three grace windows: stop watching
    /// without a verdict.
    Unknown,
    /// Look again.
    Wait,
}

/// Updates `w` with what was `seen` of container `name` at `now` and
/// judges it, with `grace` the runbook's window after a kill.
pub fn judge(
    w: &mut Watch,
    seen: &Seen,
    name: &str,
    now: OffsetDateTime,
    grace: Duration,
) -> Judgement {
    let quiet = now - w.last_kill;
    let (running, restarting, started_at, restart_count, restart_policy) = match seen {
        Seen::Unreachable if quiet >= grace * 3 => return Judgement::Unknown,
        Seen::Unreachable => return Judgement::Wait,
        Seen::Gone if quiet >= grace => {
            return Judgement::Down(format!(
                "{name} was killed by the OOM killer and is not running (the container is gone)"
            ))
        }
        Seen::Gone => return Judgement::Wait,
        Seen::Container {
            running,
            restarting,
            started_at,
            restart_count,
            restart_policy,
        } => (
            *running,
            *restarting,
            *started_at,
            *restart_count,
            restart_policy,
        ),
    };
    // The first look: a restart already done shows in its start time.
    let new = match w.counted {
        None => i64::from(started_at.is_some_and(|t| t >= w.first_kill)),
        Some(before) => (restart_count - before).max(0),
    };
    w.counted = Some(restart_count);
    for _ in 0..new {
        w.restarts.push(started_at.unwrap_or(now).max(w.first_kill));
    }
    if let [.., a, b] = w.restarts.as_slice() {
        if *b - *a <= grace {
            return Judgement::Down(format!(
                "{name} is restarting in a loop: OOM-killed and restarted {} time(s) since {} (restart count {restart_count})",
                w.restarts.len(),
                stamp(w.first_kill),
            ));
        }
    }
    let up = running && !restarting;
    let no_policy = matches!(restart_policy.as_str(), "" | "no");
    if !up && no_policy && quiet >= Duration::SECOND.min(grace) {
        return Judgement::Down(format!(
            "{name} was killed by the OOM killer and is not running (it has no restart policy)"
        ));
    }
    if quiet >= grace {
        return if up {
            Judgement::Up
        } else {
            Judgement::Down(format!(
                "{name} was killed by the OOM killer and is not running {} s later",
                grace.whole_seconds()
            ))
        };
    }
    Judgement::Wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const KILL: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
    const GRACE: Duration = Duration::seconds(10);

    fn container(running: bool, started: i64, count: i64, policy: &str) -> Seen {
        Seen::Container {
            running,
            restarting: false,
            started_at: Some(KILL + Duration::seconds(started)),
            restart_count: count,
            restart_policy: policy.into(),
        }
    }

    /// Looks at `seconds` after the kill, each with what was seen; the
    /// judgement of the last look, and whether an earlier one decided.
    fn check(looks: &[(i64, Seen)], expected: &str) {
        let mut w = Watch::new(KILL);
        let mut last = Judgement::Wait;
        for (i, (at, seen)) in looks.iter().enumerate() {
            last = judge(&mut w, seen, "web-1", KILL + Duration::seconds(*at), GRACE);
            if last != Judgement::Wait && i + 1 < looks.len() {
                panic!("decided early at look {i}: {last:?}");
            }
        }
        let got = match &last {
            Judgement::Down(why) => format!("down: {why}"),
            other => format!("{other:?}"),
        };
        assert!(got.contains(expected), "{got:?} lacks {expected:?}");
    }

    #[test]
    fn a_crash_loop_is_down_at_its_second_restart() {
        check(
            &[
                (1, container(true, 1, 1, "always")),
                (2, container(false, 1, 1, "always")),
                (3, container(true, 3, 2, "always")),
            ],
            "restarting in a loop: OOM-killed and restarted 2 time(s)",
        );
    }

    #[test]
    fn one_restart_that_stays_up_is_no_downtime() {
        check(
            &[
                (1, container(true, 1, 1, "always")),
                (5, container(true, 1, 1, "always")),
                (10, container(true, 1, 1, "always")),
            ],
            "Up",
        );
    }

    #[test]
    fn no_restart_policy_is_down_after_a_second() {
        check(
            &[
                (0, container(false, -60, 0, "no")),
                (1, container(false, -60, 0, "no")),
            ],
            "it has no restart policy",
        );
        check(
            &[(1, container(false, -60, 0, ""))],
            "it has no restart policy",
        );
    }

    #[test]
    fn still_down_when_the_window_ends() {
        check(
            &[
                (1, container(false, -60, 0, "on-failure")),
                (10, container(false, -60, 0, "on-failure")),
            ],
            "is not running 10 s later",
        );
    }

    #[test]
    fn a_gone_container_is_down_after_the_window() {
        check(
            &[(3, Seen::Gone), (10, Seen::Gone)],
            "the container is gone",
        );
    }

    #[test]
    fn an_unreachable_engine_gives_up_after_three_windows() {
        check(
            &[
                (5, Seen::Unreachable),
                (29, Seen::Unreachable),
                (30, Seen::Unreachable),
            ],
            "Unknown",
        );
    }

    #[test]
    fn a_later_kill_extends_the_window() {
        let mut w = Watch::new(KILL);
        w.killed_again(KILL + Duration::seconds(8));
        let seen = container(false, -60, 0, "always");
        assert_eq!(
            judge(&mut w, &seen, "web-1", KILL + Duration::seconds(12), GRACE),
            Judgement::Wait
        );
        assert!(matches!(
            judge(&mut w, &seen, "web-1", KILL + Duration::seconds(18), GRACE),
            Judgement::Down(_)
        ));
    }
}
