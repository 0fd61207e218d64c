//! Alerts a silence held back: when the silence ends (expired, or ended
//! by hand), one bot claims it, says so in the incident channel, and hands
//! on the alerts it held back that still fire (and no other silence
//! covers): they open or join their incidents and page now.

use crate::app::silences::covering;
use crate::app::App;
use crate::core::alerting::{AlertEvent, AlertSource};
use crate::render;
use crate::store::StoreError;
use time::OffsetDateTime;

/// One step of the silence loop: every silence that ended by `now` is
/// claimed by one bot, said in the incident channel, and the alerts it held
/// back that still fire (and no other silence covers) are handled now.
pub async fn tick(app: &App, now: OffsetDateTime) -> Result<usize, StoreError> {
    let ended = app.store.claim_ended_silences(now).await?;
    for s in &ended {
        let held = app.store.held_back(s.id).await?;
        let mut handed = Vec::new();
        for (id, name, service, summary, started_at) in held {
            // Still covered by another silence: held back by that one now,
            // handed on when it ends.
            if let Some(other) = covering(app, service.as_deref(), now).await? {
                app.store.silence_alert(id, other.id).await?;
                continue;
            }
            handed.push((id, name, service, summary, started_at));
        }
        let text = render::paging::silence_ended(s, handed.len());
        if let Err(e) = app
            .chat
            .post(app.incident_channel(), &render::Message::text(text))
            .await
        {
            tracing::warn!(silence = s.id, error = %e, "could not say that a silence ended");
        }
        app.audit_bot(
            now,
            "silence ended".into(),
            Some(format!("silence #{}", s.id)),
            format!("{} alert(s) handed on", handed.len()),
        )
        .await;
        for (id, name, service, summary, _) in handed {
            let ev = AlertEvent {
                fingerprint: String::new(),
                name,
                firing: true,
                service,
                container: None,
                summary,
                // Recorded already; handed on as the bot's own.
                source: AlertSource::Bot,
                at: now,
            };
            super::hand_on(app, id, ev).await;
        }
        // Confirmed last: a bot that died before this leaves the rest to
        // another after the claim's lease (alerts handed on already have
        // their incident, so they are not handed on twice).
        app.store.silence_end_handled(s.id).await?;
    }
    Ok(ended.len())
}
