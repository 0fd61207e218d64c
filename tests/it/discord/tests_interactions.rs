//! The interaction rules the emulator enforces, through serenity's own
//! `Http` client: unknown, forged or late interactions, double answers,
//! `@original` edits with files and limits, follow-ups, autocomplete.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use serenity::builder::{
    CreateAttachment, CreateAutocompleteResponse, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseMessage,
};
use serenity::http::Http;
use serenity::model::application::CommandOptionType;
use serenity::model::channel::MessageFlags;
use serenity::model::id::{GuildId, InteractionId, MessageId};

use super::tests::offline;
use super::tests_rest::discord_error;
use super::*;

async fn callback(
    http: &Http,
    sent: &Sent,
    body: &CreateInteractionResponse,
) -> serenity::Result<()> {
    let id = InteractionId::new(sent.interaction_id);
    http.create_interaction_response(id, &sent.token, body, vec![])
        .await
}

fn defer() -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new())
}

/// An offline emulator with `/ping` and `/svc` (an autocompleted option)
/// registered, and alice to use them.
async fn with_commands() -> (Emulator, Arc<Http>, Member) {
    let (emu, http) = offline().await;
    let service = CreateCommandOption::new(CommandOptionType::String, "service", "Service")
        .set_autocomplete(true);
    let commands = vec![
        CreateCommand::new("ping").description("Ping"),
        CreateCommand::new("svc")
            .description("Service")
            .add_option(service),
    ];
    GuildId::new(GUILD_ID)
        .set_commands(&http, commands)
        .await
        .expect("register");
    (emu, http, Member::new(42, "alice"))
}

/// `/ping` by alice, deferred.
async fn deferred_ping(emu: &Emulator, http: &Http, alice: Member) -> Sent {
    let sent = emu
        .slash(Slash::new("ping", alice, INCIDENT_CHANNEL_ID))
        .await;
    defer_and_check(emu, http, &sent).await;
    sent
}

/// Defers `sent`: answered with type 5, @original "thinking".
async fn defer_and_check(emu: &Emulator, http: &Http, sent: &Sent) {
    callback(http, sent, &defer()).await.expect("defer");
    assert_eq!(emu.response_type(sent.interaction_id), Some(5));
    let thinking = http
        .get_original_interaction_response(&sent.token)
        .await
        .expect("@original");
    assert!(thinking.flags.unwrap().contains(MessageFlags::LOADING));
}

/// A forged token is unknown, there is no @original before the answer, and
/// an interaction is answered once.
#[tokio::test(flavor = "multi_thread")]
async fn an_interaction_is_answered_once_and_only_with_its_token() {
    let (emu, http, alice) = with_commands().await;
    let sent = emu
        .slash(Slash::new("ping", alice, INCIDENT_CHANNEL_ID))
        .await;
    let forged = Sent {
        token: "nope".into(),
        ..sent.clone()
    };
    assert_eq!(
        discord_error(callback(&http, &forged, &defer()).await).1,
        10062
    );
    assert_eq!(
        discord_error(http.get_original_interaction_response(&sent.token).await).1,
        10008
    );
    defer_and_check(&emu, &http, &sent).await;
    let twice = callback(&http, &sent, &defer()).await;
    assert_eq!(discord_error(twice), (400, 40060, vec![]));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_original_response_is_edited_with_files_and_deleted() {
    let (emu, http, alice) = with_commands().await;
    let sent = deferred_ping(&emu, &http, alice).await;
    let png = tiny_png(2, 2);
    let edit = json!({
        "content": "pong",
        "embeds": [{"title": "chart", "image": {"url": "attachment://p.png"}}],
        "attachments": [{"id": 0, "filename": "p.png"}],
    });
    let file = CreateAttachment::bytes(png.clone(), "p.png");
    let done = http
        .edit_original_interaction_response(&sent.token, &edit, vec![file])
        .await
        .expect("edit @original");
    assert!(!done.flags.unwrap().contains(MessageFlags::LOADING));
    assert_eq!(done.attachments[0].dimensions(), Some((2, 2)));
    let image = done.embeds[0].image.as_ref().expect("image");
    assert_eq!(image.url, done.attachments[0].url, "attachment:// resolved");
    assert_eq!(
        emu.original_response(sent.interaction_id).unwrap()["content"],
        "pong"
    );
    let too_long = json!({"embeds": [{"description": "d".repeat(4097)}]});
    let r = http
        .edit_original_interaction_response(&sent.token, &too_long, vec![])
        .await;
    assert_eq!(discord_error(r).2, vec!["embeds.0.description".to_string()]);
    http.delete_original_interaction_response(&sent.token)
        .await
        .expect("delete @original");
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_ups_are_created_edited_and_deleted() {
    let (emu, http, alice) = with_commands().await;
    let sent = deferred_ping(&emu, &http, alice).await;
    let follow = http
        .create_followup_message(
            &sent.token,
            &json!({"content": "more", "flags": 64}),
            vec![],
        )
        .await
        .expect("follow-up");
    assert!(follow.flags.unwrap().contains(MessageFlags::EPHEMERAL));
    let follow2 = http
        .edit_followup_message(&sent.token, follow.id, &json!({"content": "more!"}), vec![])
        .await
        .expect("edit follow-up");
    assert_eq!(follow2.content, "more!");
    assert_eq!(
        http.get_followup_message(&sent.token, follow.id)
            .await
            .unwrap()
            .content,
        "more!"
    );
    assert_eq!(emu.followups(sent.interaction_id).len(), 1);
    http.delete_followup_message(&sent.token, follow.id)
        .await
        .expect("delete follow-up");
    let gone = http
        .get_followup_message(&sent.token, MessageId::new(1))
        .await;
    assert_eq!(discord_error(gone).1, 10008);
}

/// Autocomplete accepts type 8 only, with at most 25 choices.
#[tokio::test(flavor = "multi_thread")]
async fn autocomplete_is_answered_with_at_most_25_choices() {
    let (emu, http, alice) = with_commands().await;
    let ac = Slash::new("svc", alice, INCIDENT_CHANNEL_ID).opt("service", "a");
    let ac = emu.autocomplete(ac, "service").await;
    let wrong =
        CreateInteractionResponse::Message(CreateInteractionResponseMessage::new().content("x"));
    assert_eq!(
        discord_error(callback(&http, &ac, &wrong).await).2,
        vec!["type".to_string()]
    );
    let choices: Vec<Value> = (0..26)
        .map(|i| json!({"name": format!("s{i}"), "value": format!("s{i}")}))
        .collect();
    let too_many = json!({"type": 8, "data": {"choices": choices}});
    let r = http
        .create_interaction_response(
            InteractionId::new(ac.interaction_id),
            &ac.token,
            &too_many,
            vec![],
        )
        .await;
    assert_eq!(discord_error(r).2, vec!["data.choices".to_string()]);
    let answer = CreateAutocompleteResponse::new().add_string_choice("api", "api");
    callback(&http, &ac, &CreateInteractionResponse::Autocomplete(answer))
        .await
        .expect("choices");
    assert_eq!(emu.response_type(ac.interaction_id), Some(8));
}

/// Too slow: Discord forgets the interaction after the deadline.
#[tokio::test(flavor = "multi_thread")]
async fn an_interaction_answered_too_late_is_unknown() {
    let (emu, http, alice) = with_commands().await;
    emu.set_ack_deadline(Some(Duration::ZERO));
    let late = emu.slash(Slash::new("ping", alice, OTHER_CHANNEL_ID)).await;
    assert_eq!(
        discord_error(callback(&http, &late, &defer()).await).1,
        10062
    );
    let statuses: Vec<u16> = emu
        .requests()
        .iter()
        .filter(|r| r.concerns(&late))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [404]);
}
