//! Silences for planned work: `/mem silence` holds back a service's (or
//! every service's) new alerts: they are recorded, but open no incident,
//! start no downtime watch and page nobody. Every report says so in its
//! footer while a silence lasts. When it ends (expired, or `/mem
//! unsilence`), one bot says so and hands on the alerts it held back that
//! still fire (`alerts::held`): they open their incidents and page as if
//! they had just fired.
//!
//! What a silence never hides: an incident already open (its pages, its
//! one-hour rule, its OOM-downtime escalation), manual escalations, and the
//! bot saying it is blind. The README lists these.

use super::{App, Caller};
use crate::core::paging;
use crate::render;
use crate::store::{Silence, StoreError};
use time::OffsetDateTime;

/// What `/mem silence` came to.
pub enum Added {
    Silenced(Silence),
    Refused(String),
}

/// Silences `service` (`all`: every service) for `minutes` (`None`: the
/// runbook's default), recorded as `caller`'s.
pub async fn add(
    app: &App,
    caller: &Caller,
    runbook: &str,
    service: &str,
    minutes: Option<i64>,
    reason: &str,
) -> Result<Added, StoreError> {
    let Some(p) = app.runbooks.get(runbook).and_then(|rb| rb.paging.as_ref()) else {
        return Ok(Added::Refused(format!(
            "The {runbook} runbook declares no paging, so there is nothing to silence."
        )));
    };
    let minutes = match paging::silence_minutes(minutes, p) {
        Ok(m) => m,
        Err(sentence) => return Ok(Added::Refused(sentence)),
    };
    let service = (service != "all").then_some(service);
    let now = OffsetDateTime::now_utc();
    let ends = now + time::Duration::minutes(i64::from(minutes));
    let s = app
        .store
        .add_silence(service, reason, &caller.label(), now, ends)
        .await?;
    tracing::info!(silence = s.id, service = ?s.service, minutes, "silence added");
    Ok(Added::Silenced(s))
}

/// The silences in force now.
pub async fn list(app: &App) -> Result<Vec<Silence>, StoreError> {
    app.store.active_silences(OffsetDateTime::now_utc()).await
}

/// Ends silence `id` now; `Err` is the sentence when it is not in force.
pub async fn end(
    app: &App,
    caller: &Caller,
    id: i64,
) -> Result<Result<Silence, String>, StoreError> {
    let now = OffsetDateTime::now_utc();
    Ok(
        match app.store.end_silence(id, &caller.label(), now).await? {
            Some(s) => Ok(s),
            None => Err(format!(
                "Silence #{id} is not in force (see /mem silences)."
            )),
        },
    )
}

/// The silence covering an alert about `service` at `now`, if any.
pub async fn covering(
    app: &App,
    service: Option<&str>,
    now: OffsetDateTime,
) -> Result<Option<Silence>, StoreError> {
    let active = app.store.active_silences(now).await?;
    Ok(active
        .into_iter()
        .find(|s| paging::covers(s.service.as_deref(), service)))
}

/// The report footer's note while silences are in force (nothing when
/// none is, or the database cannot say).
pub async fn footer(app: &App) -> Option<String> {
    // A report never waits for a database known to be away.
    if !app.health.db_ready() {
        return None;
    }
    match list(app).await {
        Ok(active) => render::paging::silence_footer(&active),
        Err(e) => {
            tracing::debug!(error = %e, "silences not read for a footer");
            None
        }
    }
}
