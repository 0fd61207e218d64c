//! `/mem verify`: the runbook's verification checklist, every item checked
//! live, as one embed; when all pass, the reply offers to resolve the
//! incident. Run in an incident's thread, OOM signs count from when that
//! incident opened and the result joins its timeline.

use super::handler::Handler;
use super::reply::{actor, defer, edit};
use crate::chat::outgoing;
use crate::core::commands::Invocation;
use crate::core::diagnosis::Outcome;
use crate::core::incident::{stamp, TimelineEntry};
use crate::core::text::clip;
use crate::render;
use serenity::all::{CommandInteraction, Context, CreateEmbed, CreateEmbedFooter};
use time::OffsetDateTime;

/// Without an incident, OOM signs are looked for this far back.
const DEFAULT_LOOKBACK: time::Duration = time::Duration::hours(1);

fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✅",
        Outcome::Warn => "⚠️",
        Outcome::Fail => "❌",
        Outcome::Unknown => "❔",
    }
}

/// Runs the checklist; returns the audit target and result.
pub(super) async fn run(
    h: &Handler,
    ctx: &Context,
    c: &CommandInteraction,
    inv: &Invocation,
    label: &str,
) -> (Option<String>, String) {
    if let Err(result) = defer(ctx, c, false, label).await {
        return (None, result);
    }
    let Some(rb) = h.runbook(&inv.runbook) else {
        return (None, "failed: runbook not loaded".into());
    };
    let now = OffsetDateTime::now_utc();
    // The incident this concerns, when the database can say.
    let incident = if h.shared.db_ready() {
        super::incidents::find(h, c).await.ok().and_then(Result::ok)
    } else {
        None
    };
    let since = incident
        .as_ref()
        .map_or(now - DEFAULT_LOOKBACK, |i| i.opened_at);
    let settings = &h.shared.settings;
    let scope = settings.scope();
    let report = match crate::verify::verify(&h.shared.probes(&scope), rb, since).await {
        Ok(r) => r,
        Err(e) => {
            e.count();
            tracing::warn!(command = %label, error = %crate::cause_chain(&e), "verification failed");
            let sentence = format!("Could not run {label}: {}.", e.for_chat());
            edit(ctx, c, outgoing::reply().content(sentence), label).await;
            return (None, format!("failed: {e}"));
        }
    };
    let lines: Vec<String> = report
        .items
        .iter()
        .map(|i| {
            format!(
                "{} **{}**\n{}",
                mark(i.outcome),
                i.text,
                clip(&i.observed, 600)
            )
        })
        .collect();
    let green = report
        .items
        .iter()
        .filter(|i| i.outcome == Outcome::Pass)
        .count();
    let content = match (&incident, report.all_pass()) {
        (Some(inc), true) => format!(
            "All {} checks pass: incident #{} can be resolved (`/incident resolve` in its thread).",
            report.items.len(),
            inc.id
        ),
        (None, true) => format!("All {} checks pass.", report.items.len()),
        (_, false) => format!("Not yet: {green} of {} checks pass.", report.items.len()),
    };
    let embed = CreateEmbed::new()
        .title(clip(&format!("{} · Verification", rb.runbook.title), 256))
        .colour(render::outcome_colour(report.outcome))
        .description(clip(&lines.join("\n\n"), 4000))
        .footer(CreateEmbedFooter::new(format!(
            "/{} verify · OOM signs since {}",
            rb.id(),
            stamp(since)
        )));
    let posted = edit(
        ctx,
        c,
        outgoing::reply().content(content).embed(embed),
        label,
    )
    .await;
    // Run in the incident's own thread: it joins the timeline.
    let in_thread = incident
        .as_ref()
        .filter(|i| i.thread_id == Some(c.channel_id.get() as i64));
    if let Some(inc) = in_thread {
        let entry = TimelineEntry {
            at: now,
            actor: actor(c),
            kind: "verification".into(),
            summary: format!("{label}: {green} of {} checks pass", report.items.len()),
            outcome: Some(report.outcome.label().to_lowercase()),
            link: posted.map(|m| m.link()),
        };
        if let Err(e) = h.shared.store.append_timeline(inc.id, &entry).await {
            tracing::warn!(error = %crate::cause_chain(&e), "verification not added to the timeline");
        }
    }
    (
        incident.map(|i| format!("incident #{}", i.id)),
        report.outcome.label().to_lowercase(),
    )
}
