//! Serenity-deserialization checks of what the emulator emits: every gateway
//! dispatch through serenity's own `GatewayEvent` parser (a missing required
//! field turns an event into `Event::Unknown`, which a bot never sees). Each
//! payload builder against serenity's model types is in `tests_payloads`.

use std::sync::Arc;

use serde_json::{json, Value};
use serenity::builder::{
    CreateActionRow, CreateButton, CreateCommand, CreateCommandOption, CreateMessage,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, CreateThread,
};
use serenity::http::{Http, HttpBuilder};
use serenity::model::application::{
    CommandOptionType, ComponentInteractionDataKind, Interaction, ResolvedValue,
};
use serenity::model::channel::ChannelType;
use serenity::model::event::{Event, GatewayEvent};
use serenity::model::id::{ApplicationId, ChannelId, GuildId, MessageId, RoleId, UserId};

use super::*;

pub(super) fn de<T: serde::de::DeserializeOwned>(what: &str, v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| {
        panic!(
            "{what} is not a serenity {}: {e}\n{v:#}",
            std::any::type_name::<T>()
        )
    })
}

/// An emulator with a gateway session but no client: dispatches only go to
/// the session log, where tests read them; REST goes through serenity.
pub(super) async fn offline() -> (Emulator, Arc<Http>) {
    let emu = Emulator::start().await;
    let identify = json!({"op": 2, "d": {"token": "t0k", "shard": [0, 1], "intents": 1}});
    emu.shared
        .write(|s| gateway::on_frame(s, u64::MAX, &identify.to_string()))
        .expect("identify");
    let http = HttpBuilder::new("t0k")
        .proxy(emu.api_base())
        .ratelimiter_disabled(true)
        .application_id(ApplicationId::new(APP_ID))
        .build();
    (emu, Arc::new(http))
}

fn log_frames(emu: &Emulator) -> Vec<Value> {
    emu.shared.read(|s| {
        let log = &s.gateway.session.as_ref().expect("a session").log;
        log.iter()
            .map(|f| serde_json::from_str(&f.frame).expect("frames are JSON"))
            .collect()
    })
}

/// Parses a frame as serenity does and insists it is the named event.
fn event_of(frame: &Value) -> Event {
    match serde_json::from_value::<GatewayEvent>(frame.clone()) {
        Ok(GatewayEvent::Dispatch(seq, ev)) => {
            assert_eq!(Some(seq), frame["s"].as_u64());
            assert_eq!(
                ev.name().as_deref(),
                frame["t"].as_str(),
                "serenity does not recognise this dispatch (Event::Unknown):\n{frame:#}"
            );
            ev
        }
        other => panic!("not a dispatch: {other:?}\n{frame:#}"),
    }
}

/// The registered command the dispatch test uses: a subcommand with an
/// option of every supported type.
fn incident_command() -> CreateCommand {
    let opt = CreateCommandOption::new;
    CreateCommand::new("incident")
        .description("Incident tools")
        .add_option(
            opt(CommandOptionType::SubCommand, "open", "Open one")
                .add_sub_option(
                    opt(CommandOptionType::String, "service", "Service")
                        .required(true)
                        .set_autocomplete(true),
                )
                .add_sub_option(
                    opt(CommandOptionType::Integer, "severity", "1-4")
                        .min_int_value(1)
                        .max_int_value(4),
                )
                .add_sub_option(opt(CommandOptionType::Number, "ratio", "Ratio"))
                .add_sub_option(opt(CommandOptionType::Boolean, "page", "Page someone"))
                .add_sub_option(opt(CommandOptionType::User, "owner", "Owner"))
                .add_sub_option(opt(CommandOptionType::Channel, "where", "Channel"))
                .add_sub_option(opt(CommandOptionType::Role, "team", "Team")),
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dispatch_is_a_known_serenity_event() {
    let (emu, http) = offline().await;
    let (sent, posted) = one_dispatch_of_each_kind(&emu, &http).await;

    let frames = log_frames(&emu);
    let names: Vec<&str> = frames.iter().filter_map(|f| f["t"].as_str()).collect();
    assert_eq!(
        names,
        [
            "READY",
            "GUILD_CREATE",
            "INTERACTION_CREATE",
            "INTERACTION_CREATE",
            "INTERACTION_CREATE",
            "INTERACTION_CREATE",
            "THREAD_CREATE",
            "RESUMED"
        ]
    );
    let events: Vec<Event> = frames.iter().map(event_of).collect();
    let interactions: Vec<&Interaction> = events
        .iter()
        .filter_map(|e| match e {
            Event::InteractionCreate(i) => Some(&i.interaction),
            _ => None,
        })
        .collect();
    assert_command_interaction(interactions[0], &sent);
    let Interaction::Autocomplete(ac) = interactions[1] else {
        panic!("expected autocomplete: {:?}", interactions[1]);
    };
    let focused = ac.data.autocomplete().expect("a focused option");
    assert_eq!((focused.name, focused.value), ("service", "ap"));
    assert_component_interactions(interactions[2], interactions[3], posted);
    let Event::GuildCreate(g) = &events[1] else {
        panic!("GUILD_CREATE expected");
    };
    let guild = &g.guild;
    assert_eq!(
        (guild.id.get(), guild.channels.len(), guild.threads.len()),
        (GUILD_ID, 2, 1)
    );
    assert!(guild.members.contains_key(&UserId::new(BOT_USER_ID)));
    let incident = Some(ChannelId::new(INCIDENT_CHANNEL_ID));
    assert!(matches!(&events[6], Event::ThreadCreate(t) if t.thread.parent_id == incident));
    assert!(matches!(&events[7], Event::Resumed(_)));
}

/// Causes one dispatch of each kind the emulator sends after READY and
/// GUILD_CREATE: a slash command with every option type, an autocomplete,
/// a button and a select click on a posted message, a thread, a RESUME.
/// Returns the slash command and the posted message's id.
async fn one_dispatch_of_each_kind(emu: &Emulator, http: &Http) -> (Sent, MessageId) {
    let alice = Member::new(42, "alice").with_roles(&[7]);
    GuildId::new(GUILD_ID)
        .set_commands(http, vec![incident_command()])
        .await
        .expect("bulk overwrite");

    let slash = Slash::new("incident", alice.clone(), THREAD_ID)
        .sub("open")
        .opt("service", "api")
        .opt("severity", 2)
        .opt("ratio", 0.5)
        .opt("page", true)
        .opt("owner", "43")
        .opt("where", INCIDENT_CHANNEL_ID.to_string())
        .opt("team", "7");
    let sent = emu.slash(slash).await;
    let partial = Slash::new("incident", alice.clone(), INCIDENT_CHANNEL_ID)
        .sub("open")
        .opt("service", "ap");
    emu.autocomplete(partial, "service").await;

    let rows = vec![
        CreateActionRow::Buttons(vec![
            CreateButton::new("ack").label("Ack"),
            CreateButton::new("off").label("Off").disabled(true),
        ]),
        CreateActionRow::SelectMenu(CreateSelectMenu::new(
            "sev",
            CreateSelectMenuKind::String {
                options: vec![CreateSelectMenuOption::new("High", "high")],
            },
        )),
    ];
    let posted = ChannelId::new(INCIDENT_CHANNEL_ID)
        .send_message(http, CreateMessage::new().content("pick").components(rows))
        .await
        .expect("post with components");
    emu.click(Click::button(posted.id.get(), "ack", alice.clone()))
        .await;
    let mut pick = Click::button(posted.id.get(), "sev", alice.clone());
    pick.values = vec!["high".into()];
    emu.click(pick).await;
    ChannelId::new(INCIDENT_CHANNEL_ID)
        .create_thread(
            http,
            CreateThread::new("inc-1").kind(ChannelType::PublicThread),
        )
        .await
        .expect("thread");
    let session = emu
        .shared
        .read(|s| s.gateway.session.as_ref().unwrap().id.clone());
    let resume = json!({"op": 6, "d": {"token": "t0k", "session_id": session, "seq": 1}});
    emu.shared
        .write(|s| gateway::on_frame(s, u64::MAX, &resume.to_string()))
        .expect("resume");
    (sent, posted.id)
}

/// The slash command as serenity parsed it: ids, token, user, channel,
/// member roles and every option resolved to its type.
fn assert_command_interaction(interaction: &Interaction, sent: &Sent) {
    let Interaction::Command(cmd) = interaction else {
        panic!("expected a command: {interaction:?}");
    };
    assert_eq!(
        (cmd.id.get(), cmd.token.as_str()),
        (sent.interaction_id, sent.token.as_str())
    );
    assert_eq!(
        (cmd.data.name.as_str(), cmd.user.id.get()),
        ("incident", 42)
    );
    let channel = cmd.channel.as_ref().expect("channel object");
    assert_eq!(channel.kind, ChannelType::PublicThread);
    assert_eq!(channel.parent_id, Some(ChannelId::new(INCIDENT_CHANNEL_ID)));
    assert_eq!(cmd.member.as_ref().unwrap().roles, vec![RoleId::new(7)]);
    let opts = cmd.data.options();
    let ResolvedValue::SubCommand(sub) = &opts[0].value else {
        panic!("subcommand expected: {opts:?}");
    };
    let by_name = |n: &str| &sub.iter().find(|o| o.name == n).expect(n).value;
    assert!(matches!(by_name("service"), ResolvedValue::String("api")));
    assert!(matches!(by_name("severity"), ResolvedValue::Integer(2)));
    assert!(matches!(by_name("ratio"), ResolvedValue::Number(r) if *r == 0.5));
    assert!(matches!(by_name("page"), ResolvedValue::Boolean(true)));
    assert!(matches!(by_name("owner"), ResolvedValue::User(u, Some(_)) if u.id.get() == 43));
    assert!(matches!(by_name("where"), ResolvedValue::Channel(c) if c.kind == ChannelType::Text));
    assert!(matches!(by_name("team"), ResolvedValue::Role(r) if r.id == RoleId::new(7)));
}

/// The button click (with its full message) and the select click.
fn assert_component_interactions(button: &Interaction, select: &Interaction, posted: MessageId) {
    let Interaction::Component(button) = button else {
        panic!("expected a component: {button:?}");
    };
    assert_eq!(button.data.custom_id, "ack");
    assert!(matches!(
        button.data.kind,
        ComponentInteractionDataKind::Button
    ));
    assert_eq!(
        (button.message.id, button.message.components.len()),
        (posted, 2)
    );
    let Interaction::Component(select) = select else {
        panic!("expected a component: {select:?}");
    };
    let ComponentInteractionDataKind::StringSelect { values } = &select.data.kind else {
        panic!("a string select expected: {:?}", select.data.kind);
    };
    assert_eq!(values, &["high"]);
}

#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "disabled")]
async fn clicking_a_disabled_button_is_a_test_error() {
    let (emu, http) = offline().await;
    let rows = vec![CreateActionRow::Buttons(vec![CreateButton::new("off")
        .label("Off")
        .disabled(true)])];
    let posted = ChannelId::new(OTHER_CHANNEL_ID)
        .send_message(&http, CreateMessage::new().components(rows))
        .await
        .expect("post");
    emu.click(Click::button(
        posted.id.get(),
        "off",
        Member::new(42, "alice"),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "required option")]
async fn a_slash_without_a_required_option_is_a_test_error() {
    let (emu, http) = offline().await;
    GuildId::new(GUILD_ID)
        .set_commands(&http, vec![incident_command()])
        .await
        .expect("bulk overwrite");
    let s = Slash::new("incident", Member::new(42, "alice"), OTHER_CHANNEL_ID).sub("open");
    emu.slash(s).await;
}
