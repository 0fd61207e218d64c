//! Every REST route answered through serenity's own `Http` client (so each
//! response must deserialize into serenity's type), and the Discord rules
//! the emulator enforces: unknown or late interactions, double answers,
//! form-body limits, empty messages, unknown routes.

use std::time::Duration;

use serde_json::{json, Value};
use serenity::builder::{
    CreateAttachment, CreateAutocompleteResponse, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage, CreateThread,
    EditMessage,
};
use serenity::http::{Http, HttpError};
use serenity::model::application::{Command, CommandOptionType, CommandType};
use serenity::model::channel::{Channel, ChannelType, MessageFlags, ReactionType};
use serenity::model::id::{ChannelId, GuildId, InteractionId, MessageId};

use super::tests::offline;
use super::*;

/// The Discord error behind a failed serenity call: (status, code, paths).
fn discord_error<T: std::fmt::Debug>(r: serenity::Result<T>) -> (u16, isize, Vec<String>) {
    match r {
        Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(e))) => (
            e.status_code.as_u16(),
            e.error.code,
            e.error.errors.iter().map(|x| x.path.clone()).collect(),
        ),
        other => panic!("expected a Discord error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_routes_answer_serenity() {
    let (emu, http) = offline().await;
    let gw = http.get_gateway().await.expect("gateway");
    assert_eq!(gw.url, emu.gateway_url());
    assert_eq!(
        http.get_bot_gateway().await.expect("gateway/bot").url,
        emu.gateway_url()
    );
    assert_eq!(
        http.get_current_user().await.expect("@me").id.get(),
        BOT_USER_ID
    );
    assert_eq!(
        http.get_current_application_info()
            .await
            .expect("app")
            .id
            .get(),
        APP_ID
    );

    // Commands: bulk overwrite keeps ids of unchanged names, single create,
    // get, delete; global scope too.
    let guild = GuildId::new(GUILD_ID);
    let first = guild
        .set_commands(&http, vec![CreateCommand::new("ping").description("Ping")])
        .await
        .expect("bulk");
    let again = guild
        .set_commands(&http, vec![CreateCommand::new("ping").description("Ping!")])
        .await
        .expect("bulk again");
    assert_eq!(first[0].id, again[0].id, "same name keeps its id");
    assert_ne!(first[0].version, again[0].version);
    let user_cmd = CreateCommand::new("Who is this").kind(CommandType::User);
    let created = guild.create_command(&http, user_cmd).await.expect("create");
    let listed = http.get_guild_commands(guild).await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        http.get_guild_command(guild, created.id)
            .await
            .expect("get")
            .name,
        "Who is this"
    );
    http.delete_guild_command(guild, created.id)
        .await
        .expect("delete");
    assert_eq!(emu.registered_commands(Some(GUILD_ID)).len(), 1);
    let global =
        Command::set_global_commands(&http, vec![CreateCommand::new("help").description("Help")])
            .await
            .expect("global");
    assert_eq!(
        (global[0].guild_id, emu.registered_commands(None).len()),
        (None, 1)
    );
    let bad = guild
        .set_commands(&http, vec![CreateCommand::new("Bad Name").description("x")])
        .await;
    assert_eq!(discord_error(bad), (400, 50035, vec!["0.name".to_string()]));

    // Channels and threads.
    for (id, kind) in [
        (INCIDENT_CHANNEL_ID, ChannelType::Text),
        (OTHER_CHANNEL_ID, ChannelType::Text),
        (THREAD_ID, ChannelType::PublicThread),
    ] {
        let Channel::Guild(c) = http.get_channel(ChannelId::new(id)).await.expect("channel") else {
            panic!("guild channel expected");
        };
        assert_eq!(c.kind, kind);
    }
    assert_eq!(
        discord_error(http.get_channel(ChannelId::new(1)).await).1,
        10003
    );

    // Messages with a file, edits keeping it, reactions, threads from it.
    let png = tiny_png(4, 4);
    let incident = ChannelId::new(INCIDENT_CHANNEL_ID);
    let msg = incident
        .send_message(
            &http,
            CreateMessage::new()
                .content("chart")
                .add_file(CreateAttachment::bytes(png.clone(), "c.png")),
        )
        .await
        .expect("post with file");
    assert_eq!(
        (
            msg.attachments[0].filename.as_str(),
            msg.attachments[0].dimensions()
        ),
        ("c.png", Some((4, 4)))
    );
    let (name, bytes) = emu.attachment(msg.attachments[0].id.get()).expect("stored");
    assert_eq!((name.as_str(), bytes), ("c.png", png));
    let edited = incident
        .edit_message(&http, msg.id, EditMessage::new().content("chart v2"))
        .await
        .expect("edit");
    assert_eq!(
        (edited.content.as_str(), edited.attachments.len()),
        ("chart v2", 1)
    );
    assert!(edited.edited_timestamp.is_some());
    assert_eq!(
        http.get_message(incident, msg.id)
            .await
            .expect("get")
            .content,
        "chart v2"
    );
    msg.react(&http, ReactionType::Unicode("👀".into()))
        .await
        .expect("react");
    let listed = emu.messages_in(INCIDENT_CHANNEL_ID);
    assert_eq!(
        (listed.len(), listed[0]["content"].as_str()),
        (1, Some("chart v2"))
    );

    let from_msg = incident
        .create_thread_from_message(&http, msg.id, CreateThread::new("inc-1"))
        .await
        .expect("thread from message");
    assert_eq!(
        (from_msg.id.get(), from_msg.kind),
        (msg.id.get(), ChannelType::PublicThread)
    );
    assert_eq!(from_msg.parent_id, Some(incident));
    let known = emu
        .channel(from_msg.id.get())
        .expect("the emulator knows the thread");
    assert_eq!(known["parent_id"], INCIDENT_CHANNEL_ID.to_string());
    let again = incident
        .create_thread_from_message(&http, msg.id, CreateThread::new("x"))
        .await;
    assert_eq!(discord_error(again).1, 160004);
    let private = incident
        .create_thread(&http, CreateThread::new("quiet"))
        .await
        .expect("thread");
    assert_eq!(
        private.kind,
        ChannelType::PrivateThread,
        "Discord's default without a message"
    );
    let Channel::Guild(t) = http
        .get_channel(from_msg.id)
        .await
        .expect("thread is known")
    else {
        panic!("guild channel expected");
    };
    assert_eq!(t.parent_id, Some(incident));
    let in_thread = from_msg
        .id
        .say(&http, "in the thread")
        .await
        .expect("post in thread");
    assert_eq!(
        emu.messages_in(from_msg.id.get())[0]["id"],
        in_thread.id.to_string()
    );
    incident
        .delete_message(&http, msg.id)
        .await
        .expect("delete");
    assert!(emu.message(msg.id.get()).is_none());

    // Discord's rejections.
    let empty = http.send_message(incident, vec![], &json!({})).await;
    assert_eq!(discord_error(empty).1, 50006);
    let long = http
        .send_message(incident, vec![], &json!({"content": "x".repeat(2001)}))
        .await;
    assert_eq!(
        discord_error(long),
        (400, 50035, vec!["content".to_string()])
    );
    let unknown = GuildId::new(GUILD_ID).to_partial_guild(&http).await;
    assert_eq!(discord_error(unknown), (404, 0, vec![]));
    let last = emu.requests().pop().expect("recorded");
    assert_eq!((last.method.as_str(), last.status), ("GET", 404));
    assert!(
        last.path.ends_with(&format!("/guilds/{GUILD_ID}")),
        "{}",
        last.path
    );
}

async fn callback(
    http: &Http,
    sent: &Sent,
    body: &CreateInteractionResponse,
) -> serenity::Result<()> {
    let id = InteractionId::new(sent.interaction_id);
    http.create_interaction_response(id, &sent.token, body, vec![])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn interaction_answers_follow_discord_rules() {
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
    let alice = Member::new(42, "alice");
    let sent = emu
        .slash(Slash::new("ping", alice.clone(), INCIDENT_CHANNEL_ID))
        .await;
    let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new());

    let forged = Sent {
        token: "nope".into(),
        ..sent.clone()
    };
    assert_eq!(
        discord_error(callback(&http, &forged, &defer).await).1,
        10062
    );
    assert_eq!(
        discord_error(http.get_original_interaction_response(&sent.token).await).1,
        10008
    );
    callback(&http, &sent, &defer).await.expect("defer");
    assert_eq!(emu.response_type(sent.interaction_id), Some(5));
    let thinking = http
        .get_original_interaction_response(&sent.token)
        .await
        .expect("@original");
    assert!(thinking.flags.unwrap().contains(MessageFlags::LOADING));
    let twice = callback(&http, &sent, &defer).await;
    assert_eq!(discord_error(twice), (400, 40060, vec![]));

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
    http.delete_original_interaction_response(&sent.token)
        .await
        .expect("delete @original");

    // Autocomplete accepts type 8 only, with at most 25 choices.
    let ac = Slash::new("svc", alice.clone(), INCIDENT_CHANNEL_ID).opt("service", "a");
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

    // Too slow: Discord forgets the interaction after the deadline.
    emu.set_ack_deadline(Some(Duration::ZERO));
    let late = emu.slash(Slash::new("ping", alice, OTHER_CHANNEL_ID)).await;
    assert_eq!(discord_error(callback(&http, &late, &defer).await).1, 10062);
    let statuses: Vec<u16> = emu
        .requests()
        .iter()
        .filter(|r| r.concerns(&late))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [404]);
}
