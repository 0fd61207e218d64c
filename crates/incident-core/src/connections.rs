//! Runbook step 4, "check for connection pool exhaustion": the monitored
//! application's PostgreSQL sessions judged against the runbook's bar
//! (< 100 connections), with the breakdowns that tell where they come from
//! and the idle-in-transaction sessions that hold them.
//!
//! Pure: the adapter reads `pg_stat_activity` into [`Session`]s.

use super::runbook::Step;
use super::verdict::{Offender, Outcome, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// One client session, as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub pid: i32,
    /// `active`, `idle`, `idle in transaction`, … (empty when unknown).
    pub state: String,
    pub application: String,
    pub user: String,
    /// Client address, or `local` for a Unix socket.
    pub client: String,
    /// Seconds since the session entered its current state.
    pub state_secs: f64,
    /// Seconds since its transaction began, if one is open.
    pub transaction_secs: Option<f64>,
    /// Superuser sessions are never closed by the bot.
    pub superuser: bool,
    /// The bot's own session (the one reading).
    pub own: bool,
}

/// What was read from the server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionSnapshot {
    /// The server's `max_connections`.
    pub max_connections: u32,
    /// Client sessions on the whole server (all databases, the bot's own
    /// included): what `max_connections` limits.
    pub server_sessions: usize,
    /// Client sessions on the application's database, the bot's own left
    /// out (background workers too).
    pub sessions: Vec<Session>,
}

/// The judged snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionsReport {
    pub total: usize,
    /// The runbook's bar.
    pub bar: u32,
    pub max_connections: u32,
    /// `max_connections` minus the server's sessions open now.
    pub headroom: i64,
    pub by_state: Vec<(String, usize)>,
    pub by_application: Vec<(String, usize)>,
    /// "user@client".
    pub by_user_client: Vec<(String, usize)>,
    /// Idle-in-transaction sessions, oldest first (at most 10).
    pub idle_in_transaction: Vec<Session>,
    pub verdict: Verdict,
}

/// The runbook's thresholds for step 4.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionRule {
    pub max_connections: u32,
    pub idle_in_transaction_warn_secs: u32,
    /// At this fraction of the bar, a warning.
    pub warn_ratio: f64,
}

pub const IDLE_IN_TRANSACTION: &str = "idle in transaction";

fn counted(keys: impl Iterator<Item = String>) -> Vec<(String, usize)> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = m.into_iter().collect();
    // Largest first; names break ties so the order is stable.
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn or_unnamed(s: &str) -> String {
    if s.is_empty() {
        "(none)".into()
    } else {
        s.to_string()
    }
}

/// The session count against the bar.
fn bar_offender(rule: &ConnectionRule, total: usize) -> Option<Offender> {
    let bar = rule.max_connections;
    let (outcome, how) = if total as f64 >= f64::from(bar) {
        (Outcome::Fail, "at or over")
    } else if total as f64 >= f64::from(bar) * rule.warn_ratio {
        (Outcome::Warn, "close to")
    } else {
        return None;
    };
    Some(Offender {
        name: "connections".into(),
        outcome,
        reason: format!("{total} open, {how} the bar of {bar}"),
    })
}

/// Sessions idle in a transaction for too long (`idle`: oldest first).
fn stale_offender(rule: &ConnectionRule, idle: &[Session]) -> Option<Offender> {
    let stale: Vec<&Session> = idle
        .iter()
        .filter(|s| s.state_secs >= f64::from(rule.idle_in_transaction_warn_secs))
        .collect();
    let oldest = stale.first()?;
    Some(Offender {
        name: "idle in transaction".into(),
        outcome: Outcome::Warn,
        reason: format!(
            "{} session{} idle in a transaction for over {} s (oldest: pid {} from {}, {:.0} s)",
            stale.len(),
            if stale.len() == 1 { "" } else { "s" },
            rule.idle_in_transaction_warn_secs,
            oldest.pid,
            or_unnamed(&oldest.application),
            oldest.state_secs
        ),
    })
}

pub fn judge_connections(
    step: &Step,
    rule: &ConnectionRule,
    snap: &ConnectionSnapshot,
) -> ConnectionsReport {
    let total = snap.sessions.len();
    let mut idle: Vec<Session> = snap
        .sessions
        .iter()
        .filter(|s| s.state == IDLE_IN_TRANSACTION)
        .cloned()
        .collect();
    idle.sort_by(|a, b| b.state_secs.total_cmp(&a.state_secs));
    let bar = rule.max_connections;
    let mut offenders: Vec<Offender> = bar_offender(rule, total).into_iter().collect();
    offenders.extend(stale_offender(rule, &idle));
    let outcome = offenders
        .iter()
        .fold(Outcome::Pass, |o, off| o.worst(off.outcome));
    let headroom = i64::from(snap.max_connections) - snap.server_sessions as i64;
    let mut notes = Vec::new();
    if headroom <= 3 {
        notes.push(format!(
            "only {headroom} connection(s) left before the server's max_connections ({})",
            snap.max_connections
        ));
    }
    let observed = format!(
        "{total} connection{} (bar {bar}); server max_connections {}, headroom {headroom}; {} idle in transaction",
        if total == 1 { "" } else { "s" },
        snap.max_connections,
        idle.len()
    );
    idle.truncate(10);
    ConnectionsReport {
        total,
        bar,
        max_connections: snap.max_connections,
        headroom,
        by_state: counted(snap.sessions.iter().map(|s| or_unnamed(&s.state))),
        by_application: counted(snap.sessions.iter().map(|s| or_unnamed(&s.application))),
        by_user_client: counted(
            snap.sessions
                .iter()
                .map(|s| format!("{}@{}", or_unnamed(&s.user), s.client)),
        ),
        idle_in_transaction: idle,
        verdict: Verdict::of(step, observed, outcome, offenders, notes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::Check;

    fn step() -> Step {
        Step {
            id: "connections".into(),
            title: "Check for connection pool exhaustion".into(),
            expected: "< 100 connections".into(),
            if_different: "Connection pool may be exhausted".into(),
            shell: vec![],
            check: Check::PgConnections {
                max_connections: 100,
                idle_in_transaction_warn_secs: 300,
            },
        }
    }

    const RULE: ConnectionRule = ConnectionRule {
        max_connections: 10,
        idle_in_transaction_warn_secs: 300,
        warn_ratio: 0.8,
    };

    fn session(pid: i32, state: &str, app: &str, secs: f64) -> Session {
        Session {
            pid,
            state: state.into(),
            application: app.into(),
            user: "rota".into(),
            client: "10.0.0.5".into(),
            state_secs: secs,
            transaction_secs: (state == IDLE_IN_TRANSACTION).then_some(secs),
            superuser: false,
            own: false,
        }
    }

    fn snap(sessions: Vec<Session>) -> ConnectionSnapshot {
        ConnectionSnapshot {
            max_connections: 100,
            server_sessions: sessions.len() + 1,
            sessions,
        }
    }

    #[test]
    fn outcomes_follow_the_bar_and_stale_transactions() {
        // (sessions, outcome)
        let cases = vec![
            (vec![session(1, "active", "web", 1.0)], Outcome::Pass),
            (
                (0..8).map(|i| session(i, "idle", "web", 1.0)).collect(),
                Outcome::Warn,
            ),
            (
                (0..10).map(|i| session(i, "idle", "web", 1.0)).collect(),
                Outcome::Fail,
            ),
            (
                vec![session(1, IDLE_IN_TRANSACTION, "celery", 301.0)],
                Outcome::Warn,
            ),
            (
                vec![session(1, IDLE_IN_TRANSACTION, "celery", 30.0)],
                Outcome::Pass,
            ),
        ];
        for (sessions, want) in cases {
            let n = sessions.len();
            let r = judge_connections(&step(), &RULE, &snap(sessions));
            assert_eq!(r.verdict.outcome, want, "{n} sessions: {:?}", r.verdict);
            assert_eq!(
                r.verdict.conclusion.is_some(),
                want == Outcome::Fail,
                "{n} sessions"
            );
        }
    }

    #[test]
    fn breakdowns_and_oldest_idle_first() {
        let r = judge_connections(
            &step(),
            &RULE,
            &snap(vec![
                session(1, "active", "web", 1.0),
                session(2, IDLE_IN_TRANSACTION, "celery", 50.0),
                session(3, IDLE_IN_TRANSACTION, "celery", 900.0),
                session(4, "idle", "", 5.0),
            ]),
        );
        assert_eq!(r.total, 4);
        assert_eq!(
            r.headroom, 95,
            "the bot's own session counts against the server"
        );
        assert_eq!(r.by_state[0], (IDLE_IN_TRANSACTION.to_string(), 2));
        assert_eq!(r.by_application[0], ("celery".to_string(), 2));
        assert!(r.by_application.contains(&("(none)".to_string(), 1)));
        assert_eq!(r.by_user_client, [("rota@10.0.0.5".to_string(), 4)]);
        let pids: Vec<i32> = r.idle_in_transaction.iter().map(|s| s.pid).collect();
        assert_eq!(pids, [3, 2]);
        assert!(r.verdict.offenders[0]
            .reason
            .contains("oldest: pid 3 from celery"));
    }
}
