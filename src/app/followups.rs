//! Follow-ups: the prevention work an incident leaves behind. Resolving
//! offers the runbook's prevention items (`[followups]`); `/incident
//! followup add|done|list` keeps them with an owner and a due date;
//! `/incident followups` shows the open ones of every incident; the
//! postmortem lists them.

use super::{App, Caller};
use crate::core::incident::TimelineEntry;
use crate::store::{Followup, StoreError};
use time::OffsetDateTime;

/// What a follow-up command came to: done (the follow-up, its incident),
/// or the sentence why not.
pub type Outcome = Result<Followup, String>;

/// Adds a follow-up to the incident of `caller`'s channel: `text`, owned by
/// `owner` (default: the caller), due in `due_days` (default: the
/// runbook's).
pub async fn add(
    app: &App,
    caller: &Caller,
    text: &str,
    owner: Option<u64>,
    due_days: Option<i64>,
) -> Result<Outcome, StoreError> {
    let inc = match super::incidents::find(app, caller.channel_id).await? {
        Ok(inc) => inc,
        Err(sentence) => return Ok(Err(sentence)),
    };
    if text.trim().is_empty() {
        return Ok(Err(
            "Give the follow-up: item:<a prevention item> or text:<…>.".into(),
        ));
    }
    let default_days = app
        .runbooks
        .get(&inc.runbook)
        .and_then(|rb| rb.followups.as_ref())
        .map_or(14, |f| i64::from(f.due_days));
    let now = OffsetDateTime::now_utc();
    let due = (now + time::Duration::days(due_days.unwrap_or(default_days))).date();
    let owner = owner.unwrap_or(caller.user_id);
    let f = app
        .store
        .add_followup(inc.id, text.trim(), owner, due, &caller.label(), now)
        .await?;
    app.timeline(
        inc.id,
        &TimelineEntry {
            at: now,
            actor: caller.label(),
            kind: "followup".into(),
            summary: format!(
                "follow-up #{}: {} (owner <@{owner}>, due {due})",
                f.id, f.text
            ),
            outcome: None,
            link: None,
        },
    )
    .await;
    Ok(Ok(f))
}

/// Marks follow-up `id` done.
pub async fn done(app: &App, caller: &Caller, id: i64) -> Result<Outcome, StoreError> {
    let now = OffsetDateTime::now_utc();
    Ok(
        match app.store.finish_followup(id, &caller.label(), now).await? {
            Some(f) => {
                app.timeline(
                    f.incident_id,
                    &TimelineEntry {
                        at: now,
                        actor: caller.label(),
                        kind: "followup".into(),
                        summary: format!("follow-up #{} done: {}", f.id, f.text),
                        outcome: None,
                        link: None,
                    },
                )
                .await;
                Ok(f)
            }
            None => Err(format!(
                "There is no open follow-up #{id} (see /incident followups)."
            )),
        },
    )
}

/// The follow-ups of the incident of `caller`'s channel (its id and them).
pub async fn of_incident(
    app: &App,
    caller: &Caller,
) -> Result<Result<(i64, Vec<Followup>), String>, StoreError> {
    let inc = match super::incidents::find(app, caller.channel_id).await? {
        Ok(inc) => inc,
        Err(sentence) => return Ok(Err(sentence)),
    };
    Ok(Ok((inc.id, app.store.followups(Some(inc.id)).await?)))
}

/// Every open follow-up.
pub async fn open(app: &App) -> Result<Vec<Followup>, StoreError> {
    app.store.followups(None).await
}

/// The prevention items resolving offers for an incident of `runbook`.
pub fn offered(app: &App, runbook: &str) -> Vec<String> {
    app.runbooks
        .get(runbook)
        .filter(|rb| rb.followups.is_some())
        .map(|rb| rb.runbook.prevention.clone())
        .unwrap_or_default()
}
