//! `/mem runbook`: the runbook document itself, privately, as four embeds
//! (each step with the commands the document had people type and the bot
//! command that runs it; causes; resolutions; checklist and escalation).

use super::handler::Handler;
use super::reply::redacted;
use crate::chat::outgoing;
use crate::core::commands::Invocation;
use crate::core::text::clip;
use serenity::all::{CommandInteraction, Context, CreateEmbed};

/// Shows the runbook; returns the audit target and result.
pub(super) async fn show(
    h: &Handler,
    ctx: &Context,
    c: &CommandInteraction,
    inv: &Invocation,
) -> (Option<String>, String) {
    let Some(rb) = h.runbook(&inv.runbook) else {
        return (None, "failed: runbook not loaded".into());
    };
    // Four embeds of at most 1450 characters: within Discord's 6000 for
    // one message (a render test checks the team's runbook fits uncut).
    let embeds: Vec<CreateEmbed> = crate::render::runbook_sections(rb)
        .into_iter()
        .map(|(title, text)| {
            CreateEmbed::new()
                .title(clip(&title, 256))
                .description(clip(&text, 1450))
        })
        .collect();
    let msg = outgoing::answer().embeds(embeds).ephemeral(true);
    match c.create_response(&ctx.http, outgoing::respond(msg)).await {
        Ok(()) => (None, "shown".into()),
        Err(e) => {
            tracing::error!(error = %redacted(&e, c), "could not show the runbook");
            (None, format!("failed: {}", redacted(&e, c)))
        }
    }
}
