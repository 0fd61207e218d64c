//! Scheduling the verification checklist's re-runs (`[reverify]`) after a
//! remedy or a resolution; `reverify` runs them. Apart, so that resolving
//! and executing can schedule without depending on what a run does.

use super::App;
use crate::core::incident::Incident;
use crate::core::reverify;
use time::OffsetDateTime;

/// Schedules the runs after `after` (an action's id, or `resolve`) at
/// `from`, if the incident's runbook re-verifies.
pub async fn schedule(app: &App, incident: &Incident, after: &str, from: OffsetDateTime) {
    let Some(r) = app
        .runbooks
        .get(&incident.runbook)
        .and_then(|rb| rb.reverify.as_ref())
    else {
        return;
    };
    let runs = reverify::schedule(r, from);
    match app
        .store
        .schedule_checks(incident.id, after, from, &runs)
        .await
    {
        Ok(replaced) => {
            tracing::info!(
                incident = incident.id,
                after,
                replaced,
                "re-checks scheduled"
            );
            super::header::refresh(app, incident.id).await;
        }
        Err(e) => {
            tracing::error!(incident = incident.id, error = %crate::cause_chain(&e), "re-checks not scheduled")
        }
    }
}
