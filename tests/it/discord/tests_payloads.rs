//! Serenity-deserialization checks of each payload builder of the emulator
//! against serenity's model types (a payload serenity cannot read is one a
//! bot never sees).

use serde_json::json;
use serenity::builder::{CreateCommand, CreateCommandOption};
use serenity::model::application::{Command, CommandOptionType, CurrentApplicationInfo};
use serenity::model::channel::{Channel, ChannelType, GuildChannel, Message, PartialChannel};
use serenity::model::gateway::{BotGateway, Ready};
use serenity::model::id::{ChannelId, GuildId, RoleId};

use super::tests::de;
use super::*;

#[test]
fn user_member_and_role_payloads_are_serenity_models() {
    let alice = Member::new(42, "alice").with_roles(&[7]);
    let u: serenity::model::user::User = de("user", &payloads::user(42, "alice", false));
    assert_eq!((u.id.get(), u.name.as_str(), u.bot), (42, "alice", false));
    let me: serenity::model::user::CurrentUser = de("bot user", &payloads::bot_user());
    assert_eq!((me.id.get(), me.bot), (BOT_USER_ID, true));
    let m: serenity::model::guild::Member = de("member", &payloads::member(&alice));
    assert_eq!(
        (m.user.id.get(), m.roles.clone()),
        (42, vec![RoleId::new(7)])
    );
    let _: serenity::model::guild::PartialMember =
        de("partial member", &payloads::partial_member());
    let r: serenity::model::guild::Role = de("role", &payloads::role(7));
    assert_eq!(r.id, RoleId::new(7));
}

#[test]
fn channel_payloads_are_serenity_models() {
    let world = payloads::world_channels();
    for (id, ch) in &world {
        let c: GuildChannel = de("channel", ch);
        assert_eq!((c.id.get(), c.guild_id.get()), (*id, GUILD_ID));
        let any: Channel = de("channel", ch);
        assert!(matches!(any, Channel::Guild(_)));
    }
    let thread: GuildChannel = de("thread", &world[&THREAD_ID]);
    assert_eq!(thread.kind, ChannelType::PublicThread);
    assert_eq!(thread.parent_id, Some(ChannelId::new(INCIDENT_CHANNEL_ID)));
    assert!(thread.thread_metadata.is_some());
    let text: GuildChannel = de("text channel", &world[&INCIDENT_CHANNEL_ID]);
    assert_eq!(text.kind, ChannelType::Text);
    let pc: PartialChannel = de(
        "partial channel",
        &payloads::partial_channel(&world[&THREAD_ID]),
    );
    assert_eq!(pc.kind, ChannelType::PublicThread);
    assert_eq!(pc.parent_id, Some(ChannelId::new(INCIDENT_CHANNEL_ID)));
}

#[test]
fn message_payloads_are_serenity_models() {
    let png = tiny_png(3, 2);
    let mut msg = payloads::message(5, INCIDENT_CHANNEL_ID, 20, true);
    msg["content"] = json!("hi");
    msg["attachments"] = json!([payloads::attachment(
        "http://127.0.0.1:1",
        INCIDENT_CHANNEL_ID,
        6,
        "a.png",
        "image/png",
        &png,
        None,
        true
    )]);
    let m: Message = de("message", &msg);
    assert_eq!(m.attachments[0].dimensions(), Some((3, 2)));
    assert_eq!(m.attachments[0].size as usize, png.len());
    assert_eq!(m.webhook_id.map(|w| w.get()), Some(APP_ID));
    assert_eq!(m.author.id.get(), BOT_USER_ID);
}

/// A command exactly as serenity's builder sends it, explicit nulls too.
#[test]
fn command_payloads_are_serenity_models() {
    let sent = serde_json::to_value(
        CreateCommand::new("ping").description("Ping").add_option(
            CreateCommandOption::new(CommandOptionType::Integer, "n", "How many")
                .min_int_value(1)
                .required(true),
        ),
    )
    .unwrap();
    assert!(
        sent.to_string().contains("null"),
        "serenity sends nulls: {sent}"
    );
    let cmd: Command = de("command", &payloads::command(&sent, 9, 10, Some(GUILD_ID)));
    assert_eq!(
        (cmd.id.get(), cmd.guild_id),
        (9, Some(GuildId::new(GUILD_ID)))
    );
    assert_eq!(
        cmd.options[0].min_value.as_ref().and_then(|n| n.as_i64()),
        Some(1)
    );
    assert!(cmd.options[0].required);
}

#[test]
fn application_gateway_and_error_payloads_are_serenity_models() {
    let app: CurrentApplicationInfo = de("application", &payloads::application_info());
    assert_eq!(app.id.get(), APP_ID);
    let gw: BotGateway = de("gateway/bot", &payloads::gateway_bot("ws://x"));
    assert_eq!(gw.shards, 1);
    let ready: Ready = de(
        "READY",
        &payloads::ready("sid", "ws://x", Some(&json!([0, 1]))),
    );
    assert_eq!(
        (ready.application.id.get(), ready.user.id.get()),
        (APP_ID, BOT_USER_ID)
    );
    assert_eq!(ready.resume_gateway_url, "ws://x");

    let err: serenity::http::DiscordJsonError = de(
        "form error",
        &payloads::form_error("embeds.0.description", "BASE_TYPE_MAX_LENGTH", "Too long"),
    );
    assert_eq!(
        (err.code, err.errors[0].path.as_str()),
        (50035, "embeds.0.description")
    );
    let err: serenity::http::DiscordJsonError =
        de("error", &payloads::error(10062, "Unknown interaction"));
    assert_eq!(err.code, 10062);
}
