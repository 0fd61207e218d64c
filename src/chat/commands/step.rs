//! A diagnosis step from chat (`/mem status`, `leaks`, `connections`,
//! `profile`): the report with its chart, in the incident channel. Run
//! elsewhere, the report is posted there and the person who asked gets a
//! private pointer to it; run in an incident's thread, it joins that
//! incident's timeline.

use super::{Done, Outcome};
use crate::app::diagnose::{run_step, StepInput};
use crate::app::{App, Caller};
use crate::core::commands::{Invocation, Value};
use crate::core::incident::TimelineEntry;
use crate::core::text::clip;
use crate::render::{self, Message};
use time::OffsetDateTime;

/// Run in the incident channel or one of its threads.
pub(super) fn in_incident_channel(app: &App, caller: &Caller) -> bool {
    let incident = app.incident_channel();
    caller.channel_id == incident || caller.parent_id == Some(incident)
}

pub(super) async fn run(
    app: &App,
    caller: &Caller,
    inv: &Invocation,
    step: &str,
    label: &str,
) -> Done {
    let Some(runbook) = app.runbooks.get(&inv.runbook) else {
        return Done::new(
            Message::text(format!("Could not run {label}: the runbook is not loaded.")),
            None,
            Outcome::Failed("runbook not loaded".into()),
        );
    };
    let target = Some(match &app.scope {
        crate::config::Scope::Project(p) => format!("project {p}"),
        crate::config::Scope::All => "all containers".into(),
    });
    let input = StepInput {
        service: match inv.args.get("service") {
            Some(Value::Text(s)) => Some(s.clone()),
            _ => None,
        },
        window_minutes: match inv.args.get("window") {
            Some(Value::Integer(n)) => u64::try_from(*n).ok(),
            _ => None,
        },
        host: match inv.args.get("host") {
            Some(Value::Text(h)) => Some(h.clone()),
            _ => None,
        },
    };
    let d = match run_step(&app.probes(), runbook, step, &input).await {
        Ok(d) => d,
        Err(e) => {
            e.count();
            tracing::warn!(command = %label, error = %crate::cause_chain(&e), "step failed");
            let reply = Message::text(format!("Could not run {label}: {}.", e.for_chat()));
            return Done::new(reply, target, Outcome::Failed(e.to_string()));
        }
    };
    let outcome = d.outcome();
    tracing::info!(command = %label, outcome = outcome.label(), "step done");
    let (mut report, chart) = render::report(&d, runbook);
    if let Some(note) = crate::app::silences::footer(app).await {
        report = render::footer_note(report, &note);
    }
    let verdict = d.verdict();
    let mut done = if in_incident_channel(app, caller) {
        let mut done = Done::new(
            Message::embed(report).with_file(chart),
            target,
            Outcome::Judged(outcome),
        );
        done.fallback = Some(Message::text(clip(
            &format!(
                "{label}: {}. {} (the full report could not be posted; the bot's log says why)",
                verdict.outcome.label(),
                verdict.observed
            ),
            1900,
        )));
        done
    } else {
        let pointer = elsewhere(app, caller, label, report, chart).await;
        Done::new(Message::text(pointer), target, Outcome::Judged(outcome))
    };
    if caller.parent_id == Some(app.incident_channel()) {
        done.timeline = timeline(app, caller, label, &verdict.observed, outcome.label()).await;
    }
    done
}

/// Posts the report in the incident channel for a step run elsewhere;
/// returns the sentence for the person who asked.
async fn elsewhere(
    app: &App,
    caller: &Caller,
    label: &str,
    report: crate::render::Embed,
    chart: Vec<crate::render::Attachment>,
) -> String {
    let channel = app.incident_channel();
    // Say who asked without pinging them.
    let post = Message::text(format!(
        "{label} requested by {} in <#{}>",
        caller.mention(),
        caller.channel_id
    ))
    .with_embed(report)
    .with_file(chart);
    match app.chat.post(channel, &post).await {
        Ok(posted) => format!("Posted the report in <#{channel}>: {}", posted.link),
        Err(e) => {
            tracing::error!(error = %e, channel, "posting to the incident channel failed");
            format!(
                "The report could not be posted in <#{channel}>; check that the bot may send messages and attach files there."
            )
        }
    }
}

/// The timeline entry of a diagnosis run in a thread, if the thread is an
/// incident's (its link is the reply's, filled in by the pipeline).
async fn timeline(
    app: &App,
    caller: &Caller,
    label: &str,
    observed: &str,
    outcome: &str,
) -> Option<(i64, TimelineEntry)> {
    match app.store.incident_by_thread(caller.channel_id as i64).await {
        Ok(Some(inc)) => Some((
            inc.id,
            TimelineEntry {
                at: OffsetDateTime::now_utc(),
                actor: caller.label(),
                kind: "diagnosis".into(),
                summary: format!("{label}: {observed}"),
                outcome: Some(outcome.to_lowercase()),
                link: None,
            },
        )),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(command = %label, error = %crate::cause_chain(&e), "timeline entry not recorded");
            None
        }
    }
}
