//! `/mem verify`: the runbook's verification checklist, every item checked
//! live, as one embed; when all pass, the reply offers to resolve the
//! incident. Run in an incident's thread, OOM signs count from when that
//! incident opened and the result joins its timeline.

use super::{Done, Outcome};
use crate::app::{App, Caller};
use crate::core::commands::Invocation;
use crate::core::diagnosis::Outcome as Judged;
use crate::core::incident::{stamp, TimelineEntry};
use crate::core::runbook::Runbook;
use crate::core::text::clip;
use crate::core::verification::VerifyReport;
use crate::render::{self, Embed, Message};
use time::OffsetDateTime;

/// Without an incident, OOM signs are looked for this far back.
const DEFAULT_LOOKBACK: time::Duration = time::Duration::hours(1);

fn mark(o: Judged) -> &'static str {
    match o {
        Judged::Pass => "✅",
        Judged::Warn => "⚠️",
        Judged::Fail => "❌",
        Judged::Unknown => "❔",
    }
}

pub(super) async fn run(app: &App, caller: &Caller, inv: &Invocation, label: &str) -> Done {
    let Some(rb) = app.runbooks.get(&inv.runbook) else {
        return Done::new(
            Message::text(format!("Could not run {label}: the runbook is not loaded.")),
            None,
            Outcome::Failed("runbook not loaded".into()),
        );
    };
    let now = OffsetDateTime::now_utc();
    // The incident this concerns, when the database can say.
    let incident = if app.health.db_ready() {
        crate::app::incidents::find(app, caller.channel_id)
            .await
            .ok()
            .and_then(Result::ok)
    } else {
        None
    };
    let since = incident
        .as_ref()
        .map_or(now - DEFAULT_LOOKBACK, |i| i.opened_at);
    let report = match crate::app::diagnose::verify::verify(&app.probes(), rb, since).await {
        Ok(r) => r,
        Err(e) => {
            e.count();
            tracing::warn!(command = %label, error = %crate::cause_chain(&e), "verification failed");
            let sentence = format!("Could not run {label}: {}.", e.for_chat());
            return Done::new(
                Message::text(sentence),
                None,
                Outcome::Failed(e.to_string()),
            );
        }
    };
    let green = report
        .items
        .iter()
        .filter(|i| i.outcome == Judged::Pass)
        .count();
    let reply = render(rb, &report, incident.as_ref().map(|i| i.id), since);
    let mut done = Done::new(
        reply,
        incident.as_ref().map(|i| format!("incident #{}", i.id)),
        Outcome::Judged(report.outcome),
    );
    // Run in the incident's own thread: it joins the timeline.
    if let Some(inc) = incident
        .as_ref()
        .filter(|i| i.thread_id == Some(caller.channel_id as i64))
    {
        done.timeline = Some((
            inc.id,
            TimelineEntry {
                at: now,
                actor: caller.label(),
                kind: "verification".into(),
                summary: format!("{label}: {green} of {} checks pass", report.items.len()),
                outcome: Some(report.outcome.label().to_lowercase()),
                link: None,
            },
        ));
    }
    done
}

/// The checklist as one embed, with the sentence above it.
fn render(
    rb: &Runbook,
    report: &VerifyReport,
    incident: Option<i64>,
    since: OffsetDateTime,
) -> Message {
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
        .filter(|i| i.outcome == Judged::Pass)
        .count();
    let content = match (incident, report.all_pass()) {
        (Some(id), true) => format!(
            "All {} checks pass: incident #{id} can be resolved (`/incident resolve` in its thread).",
            report.items.len(),
        ),
        (None, true) => format!("All {} checks pass.", report.items.len()),
        (_, false) => format!("Not yet: {green} of {} checks pass.", report.items.len()),
    };
    let embed = Embed::titled(clip(&format!("{} · Verification", rb.runbook.title), 256))
        .colour(render::outcome_colour(report.outcome))
        .description(clip(&lines.join("\n\n"), 4000))
        .footer(format!(
            "/{} verify · OOM signs since {}",
            rb.id(),
            stamp(since)
        ));
    Message::text(content).with_embed(embed)
}
