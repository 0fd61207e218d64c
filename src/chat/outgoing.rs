//! Every message, edit and interaction reply the bot sends starts here.
//!
//! Discord notifies whoever a message's text mentions (`@everyone`, a role,
//! a user) unless the message says otherwise, and the bot holds the
//! *Mention Everyone* permission so that escalations reach roles. Titles,
//! reasons and summaries are people's text, echoed back: shown, never
//! obeyed. So each builder here sets `allowed_mentions` explicitly, to
//! nothing, except [`ping`], which allows exactly the people and roles an
//! escalation targets. A new code path cannot forget: a test below refuses
//! serenity's message builders anywhere else in `chat/`.

use crate::core::text::clip;
use serenity::all::{
    CreateAllowedMentions, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, CreateMessage, EditInteractionResponse, EditMessage, RoleId,
    UserId,
};

/// Discord refuses message content over 2000 characters.
const MAX_CONTENT: usize = 1900;

fn none() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// A message that notifies nobody.
pub(super) fn post() -> CreateMessage {
    CreateMessage::new().allowed_mentions(none())
}

/// A message with text that notifies nobody; the text is clipped to what
/// Discord accepts.
pub(super) fn post_text(text: &str) -> CreateMessage {
    post().content(clip(text, MAX_CONTENT))
}

/// A message that notifies exactly `users` and `roles` (an escalation's
/// targets), whatever else its text mentions.
pub(super) fn ping(text: &str, users: &[u64], roles: &[u64]) -> CreateMessage {
    CreateMessage::new()
        .content(clip(text, MAX_CONTENT))
        .allowed_mentions(
            none()
                .users(users.iter().map(|u| UserId::new(*u)))
                .roles(roles.iter().map(|r| RoleId::new(*r))),
        )
}

/// An edit of one of the bot's messages that notifies nobody. Without
/// attachments it keeps the message's files (a report's chart).
pub(super) fn edit() -> EditMessage {
    EditMessage::new().allowed_mentions(none())
}

/// An edit of a deferred interaction reply that notifies nobody.
pub(super) fn reply() -> EditInteractionResponse {
    EditInteractionResponse::new().allowed_mentions(none())
}

/// [`reply`] with text, clipped to what Discord accepts.
pub(super) fn reply_text(text: &str) -> EditInteractionResponse {
    reply().content(clip(text, MAX_CONTENT))
}

/// A direct answer to an interaction (no defer), visible to the user only.
pub(super) fn ephemeral(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(clip(text, MAX_CONTENT))
            .ephemeral(true)
            .allowed_mentions(none()),
    )
}

/// A direct answer to an interaction, visible to everyone in the channel.
pub(super) fn answer() -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new().allowed_mentions(none())
}

/// An interaction's direct answer, built from [`answer`].
pub(super) fn respond(message: CreateInteractionResponseMessage) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(message)
}

/// The acknowledgement that buys time beyond Discord's 3 s.
pub(super) fn defer(ephemeral: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(answer().ephemeral(ephemeral))
}

/// A private follow-up to an acknowledged click.
pub(super) fn followup_ephemeral(text: &str) -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new()
        .content(clip(text, MAX_CONTENT))
        .ephemeral(true)
        .allowed_mentions(none())
}

#[cfg(test)]
mod tests {
    /// The builders above are the only way out: serenity's own message
    /// builders may not be constructed anywhere else in `chat/`.
    #[test]
    fn no_other_module_of_chat_builds_a_message() {
        let forbidden = [
            "CreateMessage::new(",
            "EditMessage::new(",
            "EditInteractionResponse::new(",
            "CreateInteractionResponseMessage::new(",
            "CreateInteractionResponseFollowup::new(",
            "CreateInteractionResponse::Message(",
            "CreateInteractionResponse::Defer(",
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("chat/outgoing.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for f in forbidden.iter().filter(|f| text.contains(**f)) {
                        offenders.push(format!("{}: {f}", path.display()));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "build messages in chat/outgoing.rs: {offenders:#?}"
        );
    }
}
