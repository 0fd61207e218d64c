//! The connection-pool remedy: closing sessions of the monitored database
//! that sit idle in a transaction (and, if the runbook allows, plain idle
//! ones), older than an age typed by the requester and approved by a second
//! person. Never the bot's own session, a superuser's, or another
//! database's; the conditions are checked again at the moment of closing.

use super::ActionError;
use crate::appdb::{AppDb, Closed};
use crate::config::Secret;
use crate::core::connections::IDLE_IN_TRANSACTION;
use crate::core::trend::span;
use std::time::Duration;

/// What a close-idle request would close, as approvers are shown it.
#[derive(Debug, Clone)]
pub struct CloseIdlePlan {
    /// host:port/database.
    pub location: String,
    pub count: usize,
    /// "2 sessions on db:5432/rota_cc idle in a transaction for over 10 min:
    /// pid 4711 celery-worker (rota@10.0.0.5, 14 min), …"
    pub summary: String,
}

fn eligible(state: &str, include_idle: bool) -> bool {
    state.starts_with(IDLE_IN_TRANSACTION) || (include_idle && state == "idle")
}

/// The sessions a close-idle request for `older_than` would close now.
pub async fn close_idle_target(
    app_db: Option<&Secret>,
    timeout: Duration,
    older_than: Duration,
    include_idle: bool,
) -> Result<CloseIdlePlan, ActionError> {
    let db = AppDb::connect(app_db, timeout).await?;
    let snapshot = db.sessions().await?;
    let mut found: Vec<_> = snapshot
        .sessions
        .into_iter()
        .filter(|s| !s.superuser && eligible(&s.state, include_idle))
        .filter(|s| s.state_secs >= older_than.as_secs_f64())
        .collect();
    let what = if include_idle {
        "idle (or idle in a transaction)"
    } else {
        "idle in a transaction"
    };
    let age = span(older_than.as_secs_f64());
    if found.is_empty() {
        return Err(ActionError::NothingToClose {
            what: format!("no session on {} is {what} for over {age}", db.location()),
        });
    }
    found.sort_by(|a, b| b.state_secs.total_cmp(&a.state_secs));
    let listed: Vec<String> = found
        .iter()
        .take(10)
        .map(|s| {
            let who = format!("{}@{}", s.user, s.client);
            session_line(s.pid, &s.application, &who, &span(s.state_secs))
        })
        .collect();
    let more = found.len().saturating_sub(listed.len());
    Ok(CloseIdlePlan {
        location: db.location().to_string(),
        count: found.len(),
        summary: format!(
            "{} session{} on {} {what} for over {age}: {}{}",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            db.location(),
            listed.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        ),
    })
}

/// Closes what is still eligible now; returns exactly what was closed.
pub async fn execute_close_idle(
    app_db: Option<&Secret>,
    timeout: Duration,
    older_than: Duration,
    include_idle: bool,
) -> Result<Vec<Closed>, ActionError> {
    let db = AppDb::connect(app_db, timeout).await?;
    Ok(db.terminate_idle(older_than, include_idle).await?)
}

/// "pid 4711 celery-worker (rota@10.0.0.5, 14 min)".
fn session_line(pid: i32, application: &str, who: &str, how: &str) -> String {
    let application = if application.is_empty() {
        "(no application)"
    } else {
        application
    };
    format!("pid {pid} {application} ({who}, {how})")
}

/// "closed 3 sessions: pid 4711 celery-worker (rota, idle in transaction
/// 14 min), …" or "no session was still eligible".
pub fn describe(closed: &[Closed]) -> String {
    let done: Vec<String> = closed
        .iter()
        .filter(|c| c.terminated)
        .map(|c| {
            let how = format!("{} {}", c.state, span(c.idle_secs));
            session_line(c.pid, &c.application, &c.user, &how)
        })
        .collect();
    let failed = closed.iter().filter(|c| !c.terminated).count();
    let mut out = match done.len() {
        0 => "no session was still eligible to close".to_string(),
        n => format!(
            "closed {n} session{}: {}",
            if n == 1 { "" } else { "s" },
            done.join(", ")
        ),
    };
    if failed > 0 {
        out.push_str(&format!("; {failed} could not be closed (already gone)"));
    }
    out
}
