//! An alert's one report message: posted with its memory chart when the
//! alert opens or joins an incident, then edited in place as the alert is
//! counted again (more OOM kills, a flap), its chart redrawn at most once a
//! minute.

use crate::app::port::Posted;
use crate::app::App;
use crate::core::alerting::AlertEvent;
use crate::core::incident::Incident;
use crate::core::runbook::Check;
use crate::core::text::clip;
use crate::render::{self, Message};
use crate::store::Firing;
use time::OffsetDateTime;

/// The chart of a report is redrawn at most this often.
const CHART_EVERY: time::Duration = time::Duration::minutes(1);

/// The memory report (embed and chart) of `inc`'s runbook, with the
/// silences in force in its footer; `None` when it cannot be made.
async fn report(app: &App, inc: &Incident) -> Option<(render::Embed, Vec<render::Attachment>)> {
    let rb = app.runbooks.or_first(&inc.runbook);
    // The first container_memory step is the report (`/mem status`).
    let step = rb
        .steps
        .iter()
        .map(|s| s.get_ref())
        .find(|s| matches!(s.check, Check::ContainerMemory(_)))?;
    let probes = app.probes();
    match crate::app::diagnose::run_step(&probes, rb, &step.id, &Default::default()).await {
        Ok(d) => {
            let (mut embed, files) = render::report(&d, rb);
            if let Some(note) = crate::app::silences::footer(app).await {
                embed = render::footer_note(embed, &note);
            }
            Some((embed, files))
        }
        Err(e) => {
            tracing::warn!(error = %crate::cause_chain(&e), "no memory report for the alert");
            None
        }
    }
}

/// Posts the memory report with its chart in the incident channel, with
/// the alert's sentence above it; records where and when (the chart's
/// time) on alert `alert`.
pub(super) async fn post(
    app: &App,
    alert: i64,
    ev: &AlertEvent,
    inc: &Incident,
    joined: bool,
) -> Option<Posted> {
    let mut msg = Message::text(render::alert::headline(ev, inc.id, joined));
    let drawn = report(app, inc).await;
    let charted = drawn.is_some();
    if let Some((embed, files)) = drawn {
        msg = msg.with_embed(embed).with_file(files);
    }
    let posted = match app.chat.post(app.incident_channel(), &msg).await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "posting the alert's report failed");
            return None;
        }
    };
    // Later occurrences update this message instead of posting anew.
    if let Err(e) = app
        .store
        .set_alert_message(alert, posted.channel_id, posted.message_id)
        .await
    {
        tracing::warn!(error = %crate::cause_chain(&e), "the alert's report message was not recorded");
    }
    if charted {
        let _ = app
            .store
            .set_chart_at(alert, OffsetDateTime::now_utc())
            .await;
    }
    Some(posted)
}

/// Edits the alert's one report in place with `count` ("OOM-killed 8×
/// since 14:02, restarting"); the chart is redrawn when the last one is a
/// minute old or more.
pub(super) async fn update(app: &App, ev: &AlertEvent, f: &Firing, inc: &Incident, count: &str) {
    let Some((channel, message)) = f.message else {
        return;
    };
    let text = format!("{} · {count}", render::alert::headline(ev, inc.id, false));
    let mut edit = Message::text(clip(&text, 1900));
    let now = OffsetDateTime::now_utc();
    let redraw = f.chart_at.is_none_or(|at| now - at >= CHART_EVERY);
    if redraw {
        if let Some((embed, files)) = report(app, inc).await {
            edit = edit.with_embed(embed).with_file(files);
            let _ = app.store.set_chart_at(f.id, now).await;
        }
    }
    if let Err(e) = app.chat.edit(channel as u64, message as u64, &edit).await {
        tracing::warn!(error = %e, "could not update the alert's report");
    }
}
