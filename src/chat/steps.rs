//! A diagnosis step from Discord: acknowledge, run, post the report, and
//! when it was run in an incident's thread, add it to that timeline.

use super::embed;
use super::handler::Handler;
use super::reply::{actor, defer, edit};
use crate::chat::outgoing;
use crate::core::commands::{Invocation, Value};
use crate::core::incident::TimelineEntry;
use crate::diagnose::{run_step, StepInput};
use serenity::all::{ChannelId, CommandInteraction, Context};
use time::OffsetDateTime;

/// Runs `step`; returns the audit target and result.
pub(super) async fn run(
    h: &Handler,
    ctx: &Context,
    c: &CommandInteraction,
    inv: &Invocation,
    step: &str,
    label: &str,
) -> (Option<String>, String) {
    let settings = &h.shared.settings;
    let incident_channel = settings.discord.incident_channel_id;
    let parent = c
        .channel
        .as_ref()
        .and_then(|ch| ch.parent_id)
        .map(ChannelId::get);
    let in_incident = c.channel_id.get() == incident_channel || parent == Some(incident_channel);
    // Acknowledge first. Outside the incident channel the report goes there
    // and the requester gets a private pointer to it.
    if let Err(result) = defer(ctx, c, !in_incident, label).await {
        return (None, result);
    }
    let Some(runbook) = h.runbook(&inv.runbook) else {
        return (None, "failed: runbook not loaded".into());
    };
    let scope = settings.scope();
    let target = Some(match &scope {
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
    };
    let d = match run_step(&h.shared.probes(&scope), runbook, step, &input).await {
        Ok(d) => d,
        Err(e) => {
            e.count();
            tracing::warn!(command = %label, error = %crate::cause_chain(&e), "step failed");
            let reply =
                outgoing::reply().content(format!("Could not run {label}: {}.", e.for_chat()));
            edit(ctx, c, reply, label).await;
            return (target, format!("failed: {e}"));
        }
    };
    let outcome = d.outcome();
    tracing::info!(command = %label, outcome = outcome.label(), "step done");
    let (report, chart) = embed::report(&d, runbook);
    let verdict = d.verdict();
    let posted = if in_incident {
        let mut full = outgoing::reply().embed(report);
        if let Some(chart) = chart {
            full = full.new_attachment(chart);
        }
        match edit(ctx, c, full, label).await {
            Some(msg) => Some(msg),
            // Never leave the person with "thinking…": say the verdict plainly.
            None => {
                let text = crate::core::text::clip(
                    &format!(
                        "{label}: {}. {} (the full report could not be posted; the bot's log says why)",
                        verdict.outcome.label(),
                        verdict.observed
                    ),
                    1900,
                );
                edit(ctx, c, outgoing::reply().content(text), label).await
            }
        }
    } else {
        let mut post = outgoing::post()
            .content(format!(
                "{label} requested by <@{}> in <#{}>",
                c.user.id, c.channel_id
            ))
            // Say who asked without pinging them.
            .embed(report);
        if let Some(chart) = chart {
            post = post.add_file(chart);
        }
        match ChannelId::new(incident_channel)
            .send_message(&ctx.http, post)
            .await
        {
            Ok(msg) => {
                let pointer = format!("Posted the report in <#{incident_channel}>: {}", msg.link());
                edit(ctx, c, outgoing::reply().content(pointer), label).await;
                Some(msg)
            }
            Err(e) => {
                tracing::error!(error = %e, channel = incident_channel, "posting to the incident channel failed");
                let sentence = format!(
                    "The report could not be posted in <#{incident_channel}>; check that the bot may send messages and attach files there."
                );
                edit(ctx, c, outgoing::reply().content(sentence), label).await;
                None
            }
        }
    };
    if parent == Some(incident_channel) {
        timeline(h, c, label, &verdict.observed, outcome.label(), posted).await;
    }
    (target, outcome.label().to_lowercase())
}

/// Adds a diagnosis run in a thread to that thread's incident, if it has one.
async fn timeline(
    h: &Handler,
    c: &CommandInteraction,
    label: &str,
    observed: &str,
    outcome: &str,
    posted: Option<serenity::all::Message>,
) {
    let store = &h.shared.store;
    let found = store.incident_by_thread(c.channel_id.get() as i64).await;
    let entry = |id| {
        (
            id,
            TimelineEntry {
                at: OffsetDateTime::now_utc(),
                actor: actor(c),
                kind: "diagnosis".into(),
                summary: format!("{label}: {observed}"),
                outcome: Some(outcome.to_lowercase()),
                link: posted.as_ref().map(|m| m.link()),
            },
        )
    };
    let result = match found {
        Ok(Some(inc)) => {
            let (id, e) = entry(inc.id);
            store.append_timeline(id, &e).await
        }
        Ok(None) => return,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(command = %label, error = %crate::cause_chain(&e), "timeline entry not recorded");
    }
}
