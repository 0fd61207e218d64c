//! Answering an interaction: acknowledging within Discord's 3 s, editing
//! the deferred reply, private refusals, and telling a lost race (another
//! instance of the bot answered first) from a failure. Everything sent is
//! built in `outgoing`; errors are logged without the interaction token.

use super::outgoing;
use serenity::all::{CommandInteraction, Context, EditInteractionResponse};

/// A Discord API error for the log, without the interaction token that
/// request URLs carry.
pub(super) fn redacted(e: &serenity::Error, c: &CommandInteraction) -> String {
    e.to_string().replace(&c.token, "[token]")
}

/// Who did it, readable in Discord and in files: `alice (<@9001>)`.
pub(super) fn actor(c: &CommandInteraction) -> String {
    format!("{} (<@{}>)", c.user.name, c.user.id)
}

/// The audit result of an interaction another instance of the bot
/// answered first (Discord delivers every interaction to every session).
pub(super) const TAKEN: &str = "skipped: another instance answered it";

/// Acknowledges within Discord's deadline. `Err` is the audit result:
/// [`TAKEN`] when another instance acknowledged it first (not a failure:
/// that one handles it), else a failure.
pub(super) async fn defer(
    ctx: &Context,
    c: &CommandInteraction,
    ephemeral: bool,
    label: &str,
) -> Result<(), String> {
    match c
        .create_response(&ctx.http, outgoing::defer(ephemeral))
        .await
    {
        Ok(()) => Ok(()),
        Err(e) => Err(ack_failed(&e, c, label)),
    }
}

/// Logs a failed acknowledgement; returns its audit result.
fn ack_failed(e: &serenity::Error, c: &CommandInteraction, label: &str) -> String {
    if already_acknowledged(e) {
        tracing::info!(command = %label, interaction = %c.id, "another instance answered this interaction");
        TAKEN.to_string()
    } else {
        tracing::error!(command = %label, error = %redacted(e, c), "could not acknowledge the interaction");
        "failed: could not acknowledge".to_string()
    }
}

/// Discord's answer to a second acknowledgement (error code 40060).
pub(super) fn already_acknowledged(e: &serenity::Error) -> bool {
    matches!(
        e,
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r))
            if r.error.code == 40060
    )
}

/// Edits the deferred reply; returns the message when it worked.
pub(super) async fn edit(
    ctx: &Context,
    c: &CommandInteraction,
    reply: EditInteractionResponse,
    label: &str,
) -> Option<serenity::all::Message> {
    match c.edit_response(&ctx.http, reply).await {
        Ok(msg) => Some(msg),
        Err(e) => {
            tracing::error!(command = %label, error = %redacted(&e, c), "could not edit the response");
            None
        }
    }
}

/// Answers privately at once; `Err` is the audit result when that failed
/// (see [`defer`]).
pub(super) async fn reply_ephemeral(
    ctx: &Context,
    c: &CommandInteraction,
    sentence: &str,
) -> Result<(), String> {
    c.create_response(&ctx.http, outgoing::ephemeral(sentence))
        .await
        .map_err(|e| ack_failed(&e, c, "a private reply"))
}
