//! Every message, edit and interaction reply the bot sends is built here,
//! from the application's [`Message`] values.
//!
//! Discord notifies whoever a message's text mentions (`@everyone`, a role,
//! a user) unless the message says otherwise, and the bot holds the
//! *Mention Everyone* permission so that escalations reach roles. Titles,
//! reasons and summaries are people's text, echoed back: shown, never
//! obeyed. So every builder here sets `allowed_mentions` explicitly from
//! the message's [`Mentions`]: nothing, or exactly the people and roles an
//! escalation targets. A new code path cannot forget: a test below refuses
//! serenity's message builders anywhere else in `src/`.

use crate::core::text::clip;
use crate::render::{Button, ButtonStyle, Embed, Mentions, Message};
use serenity::all::{
    ButtonStyle as DiscordButtonStyle, CreateActionRow, CreateAllowedMentions, CreateAttachment,
    CreateButton, CreateEmbed, CreateEmbedFooter, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, EditMessage, RoleId, UserId,
};

/// Discord refuses message content over 2000 characters.
const MAX_CONTENT: usize = 1900;

fn mentions(m: &Mentions) -> CreateAllowedMentions {
    match m {
        Mentions::None => CreateAllowedMentions::new(),
        Mentions::Exactly { users, roles } => CreateAllowedMentions::new()
            .users(users.iter().map(|u| UserId::new(*u)))
            .roles(roles.iter().map(|r| RoleId::new(*r))),
    }
}

fn content(m: &Message) -> Option<String> {
    m.content.as_deref().map(|c| clip(c, MAX_CONTENT))
}

fn embed(e: &Embed) -> CreateEmbed {
    let mut out = CreateEmbed::new();
    if let Some(t) = &e.title {
        out = out.title(t.clone());
    }
    if let Some(d) = &e.description {
        out = out.description(d.clone());
    }
    if let Some(c) = e.colour {
        out = out.colour(c);
    }
    for f in &e.fields {
        out = out.field(f.name.clone(), f.value.clone(), f.inline);
    }
    if let Some(f) = &e.footer {
        out = out.footer(CreateEmbedFooter::new(f.clone()));
    }
    if let Some(i) = &e.image {
        out = out.image(i.clone());
    }
    out
}

fn embeds(m: &Message) -> Vec<CreateEmbed> {
    m.embeds.iter().map(embed).collect()
}

fn files(m: &Message) -> Vec<CreateAttachment> {
    m.files
        .iter()
        .map(|f| CreateAttachment::bytes(f.bytes.clone(), f.name.clone()))
        .collect()
}

fn buttons(buttons: &[Button]) -> Vec<CreateActionRow> {
    let row = buttons
        .iter()
        .map(|b| {
            CreateButton::new(b.id.clone())
                .label(b.label.clone())
                .style(match b.style {
                    ButtonStyle::Success => DiscordButtonStyle::Success,
                    ButtonStyle::Danger => DiscordButtonStyle::Danger,
                })
                .disabled(b.disabled)
        })
        .collect();
    vec![CreateActionRow::Buttons(row)]
}

/// What the four message builders of serenity have in common, so one
/// function fills each from a [`Message`].
trait Builder: Sized {
    fn mentions(self, m: CreateAllowedMentions) -> Self;
    fn content(self, c: String) -> Self;
    fn embeds(self, e: Vec<CreateEmbed>) -> Self;
    fn file(self, f: CreateAttachment) -> Self;
    fn rows(self, r: Vec<CreateActionRow>) -> Self;
}

macro_rules! builder {
    ($t:ty, $file:ident) => {
        impl Builder for $t {
            fn mentions(self, m: CreateAllowedMentions) -> Self {
                self.allowed_mentions(m)
            }
            fn content(self, c: String) -> Self {
                <$t>::content(self, c)
            }
            fn embeds(self, e: Vec<CreateEmbed>) -> Self {
                <$t>::embeds(self, e)
            }
            fn file(self, f: CreateAttachment) -> Self {
                self.$file(f)
            }
            fn rows(self, r: Vec<CreateActionRow>) -> Self {
                self.components(r)
            }
        }
    };
}

builder!(CreateMessage, add_file);
builder!(EditMessage, new_attachment);
builder!(EditInteractionResponse, new_attachment);
builder!(CreateInteractionResponseMessage, add_file);

/// Fills `b` from `m`: its mentions always; the parts `m` has (a part left
/// empty is left out, so an edit keeps what the message had).
fn fill<B: Builder>(b: B, m: &Message) -> B {
    let mut b = b.mentions(mentions(&m.mentions));
    if let Some(c) = content(m) {
        b = b.content(c);
    }
    if !m.embeds.is_empty() {
        b = b.embeds(embeds(m));
    }
    for f in files(m) {
        b = b.file(f);
    }
    if !m.buttons.is_empty() {
        b = b.rows(buttons(&m.buttons));
    }
    b
}

/// A new message in a channel.
pub(super) fn create(m: &Message) -> CreateMessage {
    fill(CreateMessage::new(), m)
}

/// An edit of one of the bot's messages: parts left empty are kept (an
/// edit of the text keeps the chart).
pub(super) fn edit(m: &Message) -> EditMessage {
    fill(EditMessage::new(), m)
}

/// The edit of a deferred interaction reply.
pub(super) fn reply(m: &Message) -> EditInteractionResponse {
    fill(EditInteractionResponse::new(), m)
}

/// A direct answer to an interaction (no defer); private when the message
/// says so.
pub(super) fn respond(m: &Message) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        fill(CreateInteractionResponseMessage::new(), m).ephemeral(m.private),
    )
}

/// The acknowledgement that buys time beyond Discord's 3 s; the reply
/// that follows is private when `private`.
pub(super) fn defer(private: bool) -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(
        CreateInteractionResponseMessage::new()
            .allowed_mentions(mentions(&Mentions::None))
            .ephemeral(private),
    )
}

/// A private follow-up to an acknowledged click.
pub(super) fn followup_private(text: &str) -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new()
        .content(clip(text, MAX_CONTENT))
        .ephemeral(true)
        .allowed_mentions(mentions(&Mentions::None))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builders above are the only way out: serenity's own message
    /// builders may not be constructed anywhere else.
    #[test]
    fn no_other_module_builds_a_message() {
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

    /// Whatever the text says, only what the message names may be
    /// notified: nobody, or exactly an escalation's targets.
    #[test]
    fn every_message_says_whom_it_may_notify() {
        let hostile = "@everyone <@&42> <@7>";
        let allowed = |m: &Message| {
            let json = serde_json::to_value(create(m)).unwrap();
            json["allowed_mentions"].clone()
        };
        let none = allowed(&Message::text(hostile));
        assert_eq!(none["parse"], serde_json::json!([]), "{none}");
        assert!(
            none["users"].as_array().is_none_or(|u| u.is_empty()),
            "{none}"
        );
        assert!(
            none["roles"].as_array().is_none_or(|r| r.is_empty()),
            "{none}"
        );
        let ping = allowed(&Message::ping(hostile, &[8002], &[7004]));
        assert_eq!(ping["users"], serde_json::json!(["8002"]), "{ping}");
        assert_eq!(ping["roles"], serde_json::json!(["7004"]), "{ping}");
        assert_eq!(ping["parse"], serde_json::json!([]), "{ping}");
        let edited = serde_json::to_value(edit(&Message::text(hostile))).unwrap();
        assert_eq!(edited["allowed_mentions"]["parse"], serde_json::json!([]));
        let replied = serde_json::to_value(reply(&Message::text(hostile))).unwrap();
        assert_eq!(replied["allowed_mentions"]["parse"], serde_json::json!([]));
    }
}
