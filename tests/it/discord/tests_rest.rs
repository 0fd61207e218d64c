//! Every REST route answered through serenity's own `Http` client (so each
//! response must deserialize into serenity's type), and the Discord rules
//! the emulator enforces on them: form-body limits, empty messages, unknown
//! routes. The interaction rules are in `tests_interactions`.

use serde_json::json;
use serenity::builder::{
    CreateAttachment, CreateCommand, CreateMessage, CreateThread, EditMessage,
};
use serenity::http::{Http, HttpError};
use serenity::model::application::{Command, CommandType};
use serenity::model::channel::{Channel, ChannelType, ReactionType};
use serenity::model::id::{ChannelId, GuildId, MessageId};

use super::tests::offline;
use super::*;

/// The Discord error behind a failed serenity call: (status, code, paths).
pub(super) fn discord_error<T: std::fmt::Debug>(
    r: serenity::Result<T>,
) -> (u16, isize, Vec<String>) {
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
async fn gateway_and_identity_routes_answer_serenity() {
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
}

/// Commands: bulk overwrite keeps ids of unchanged names, single create,
/// get, delete; global scope too.
#[tokio::test(flavor = "multi_thread")]
async fn command_routes_answer_serenity() {
    let (emu, http) = offline().await;
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
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_routes_answer_serenity() {
    let (_emu, http) = offline().await;
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
}

/// Messages with a file, edits keeping it, reactions, threads from it, and
/// deleting it at last.
#[tokio::test(flavor = "multi_thread")]
async fn message_and_thread_routes_answer_serenity() {
    let (emu, http) = offline().await;
    let incident = ChannelId::new(INCIDENT_CHANNEL_ID);
    let msg = post_edit_and_react(&emu, &http).await;
    threads_from_a_message(&emu, &http, msg).await;
    incident.delete_message(&http, msg).await.expect("delete");
    assert!(emu.message(msg.get()).is_none());
}

/// Posts a message with a file in the incident channel, edits it (the file
/// stays) and reacts to it; returns its id.
async fn post_edit_and_react(emu: &Emulator, http: &Http) -> MessageId {
    let png = tiny_png(4, 4);
    let incident = ChannelId::new(INCIDENT_CHANNEL_ID);
    let msg = incident
        .send_message(
            http,
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
        .edit_message(http, msg.id, EditMessage::new().content("chart v2"))
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
    msg.react(http, ReactionType::Unicode("👀".into()))
        .await
        .expect("react");
    let listed = emu.messages_in(INCIDENT_CHANNEL_ID);
    assert_eq!(
        (listed.len(), listed[0]["content"].as_str()),
        (1, Some("chart v2"))
    );
    msg.id
}

/// A public thread from message `msg` (once only), a private one without a
/// message, and a post in the first.
async fn threads_from_a_message(emu: &Emulator, http: &Http, msg: MessageId) {
    let incident = ChannelId::new(INCIDENT_CHANNEL_ID);
    let from_msg = incident
        .create_thread_from_message(http, msg, CreateThread::new("inc-1"))
        .await
        .expect("thread from message");
    assert_eq!(
        (from_msg.id.get(), from_msg.kind),
        (msg.get(), ChannelType::PublicThread)
    );
    assert_eq!(from_msg.parent_id, Some(incident));
    let known = emu
        .channel(from_msg.id.get())
        .expect("the emulator knows the thread");
    assert_eq!(known["parent_id"], INCIDENT_CHANNEL_ID.to_string());
    let again = incident
        .create_thread_from_message(http, msg, CreateThread::new("x"))
        .await;
    assert_eq!(discord_error(again).1, 160004);
    let private = incident
        .create_thread(http, CreateThread::new("quiet"))
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
        .say(http, "in the thread")
        .await
        .expect("post in thread");
    assert_eq!(
        emu.messages_in(from_msg.id.get())[0]["id"],
        in_thread.id.to_string()
    );
}

/// Discord's rejections: empty and too long messages, unknown routes.
#[tokio::test(flavor = "multi_thread")]
async fn rest_rejections_answer_serenity() {
    let (emu, http) = offline().await;
    let incident = ChannelId::new(INCIDENT_CHANNEL_ID);
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
