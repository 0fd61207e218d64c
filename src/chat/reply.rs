//! Answering an interaction: acknowledging within Discord's 3 s, editing
//! the deferred reply, direct and private answers, and telling a lost race
//! (another instance of the bot answered first) from a failure. Everything
//! sent is built in `outgoing`; errors are logged without the interaction
//! token.

use super::outgoing;
use super::responder::Responder;
use crate::render::Message;
use serenity::all::CommandInteraction;

/// A Discord API error for the log, without the interaction token that
/// request URLs carry.
pub(super) fn redacted(e: &serenity::Error, token: &str) -> String {
    e.to_string().replace(token, "[token]")
}

/// The audit result of an interaction another instance of the bot
/// answered first (Discord delivers every interaction to every session).
pub(super) const TAKEN: &str = "skipped: another instance answered it";

/// Discord's answer to a second acknowledgement (error code 40060).
pub(super) fn already_acknowledged(e: &serenity::Error) -> bool {
    matches!(
        e,
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r))
            if r.error.code == 40060
    )
}

/// Logs a failed acknowledgement; returns its audit result: [`TAKEN`] when
/// another instance acknowledged it first (not a failure: that one handles
/// it), else a failure.
fn ack_failed(e: &serenity::Error, c: &CommandInteraction, label: &str) -> String {
    if already_acknowledged(e) {
        tracing::info!(command = %label, interaction = %c.id, "another instance answered this interaction");
        TAKEN.to_string()
    } else {
        tracing::error!(command = %label, error = %redacted(e, &c.token), "could not acknowledge the interaction");
        "failed: could not acknowledge".to_string()
    }
}

/// Acknowledges within Discord's deadline; `Err` is the audit result.
pub(super) async fn defer(
    r: &Responder,
    c: &CommandInteraction,
    private: bool,
    label: &str,
) -> Result<(), String> {
    r.first(c.id, &c.token, outgoing::defer(private))
        .await
        .map_err(|e| ack_failed(&e, c, label))
}

/// Edits the deferred reply; returns the message's link when it worked.
pub(super) async fn edit(
    r: &Responder,
    c: &CommandInteraction,
    reply: &Message,
    label: &str,
) -> Option<String> {
    match c.edit_response(&r.http, outgoing::reply(reply)).await {
        Ok(msg) => Some(msg.link()),
        Err(e) => {
            tracing::error!(command = %label, error = %redacted(&e, &c.token), "could not edit the response");
            None
        }
    }
}

/// Answers at once, without a defer; `Err` is the audit result when that
/// failed.
pub(super) async fn respond(
    r: &Responder,
    c: &CommandInteraction,
    reply: &Message,
    label: &str,
) -> Result<(), String> {
    r.first(c.id, &c.token, outgoing::respond(reply))
        .await
        .map_err(|e| ack_failed(&e, c, label))
}
