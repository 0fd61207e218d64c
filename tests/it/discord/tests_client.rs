//! Self-test of the Discord emulator with a real serenity 0.12.5 client in
//! this process: READY, command registration, a slash command deferred and
//! then answered with an embed and a PNG, autocomplete, a button click, a
//! channel post with a file, and the session surviving broken connections
//! (resume, replay of missed dispatches, re-identify after op 9).

use std::sync::Arc;
use std::time::Duration;

use serenity::async_trait;
use serenity::builder::{
    CreateActionRow, CreateAttachment, CreateAutocompleteResponse, CreateButton, CreateCommand,
    CreateCommandOption, CreateEmbed, CreateInteractionResponse, CreateInteractionResponseMessage,
    CreateMessage, EditInteractionResponse,
};
use serenity::client::{ClientBuilder, Context, EventHandler, RawEventHandler};
use serenity::gateway::ShardManager;
use serenity::http::{Http, HttpBuilder};
use serenity::model::application::{CommandInteraction, CommandOptionType, Interaction};
use serenity::model::event::Event;
use serenity::model::gateway::{GatewayIntents, Ready};
use serenity::model::id::{ChannelId, GuildId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::discord::{
    tiny_png, Click, Emulator, GatewayDrop, Member, Sent, Slash, APP_ID, GUILD_ID,
    INCIDENT_CHANNEL_ID, OTHER_CHANNEL_ID, THREAD_ID,
};

const T: Duration = Duration::from_secs(20);
const TOKEN: &str = "emulator-test-token";

/// What the client's handlers report to the test.
#[derive(Debug)]
enum Seen {
    Registered(Result<usize, String>),
    Handled(u64, Result<(), String>),
    /// A dispatch serenity could not parse: the emulator emitted bad JSON.
    Unknown(String),
}

struct Handler(mpsc::UnboundedSender<Seen>);

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, _ready: Ready) {
        let service = CreateCommandOption::new(CommandOptionType::String, "service", "Service")
            .required(true)
            .set_autocomplete(true);
        let commands = vec![
            CreateCommand::new("ping").description("Answers with a chart"),
            CreateCommand::new("svc")
                .description("Pick a service")
                .add_option(service),
        ];
        let r = GuildId::new(GUILD_ID)
            .set_commands(&ctx.http, commands)
            .await;
        let _ = self.0.send(Seen::Registered(
            r.map(|c| c.len()).map_err(|e| e.to_string()),
        ));
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let id = interaction.id().get();
        let result = match interaction {
            Interaction::Command(cmd) => ping(&ctx, &cmd).await,
            Interaction::Autocomplete(ac) => {
                let choices = CreateAutocompleteResponse::new().add_string_choice("api", "api");
                ac.create_response(&ctx.http, CreateInteractionResponse::Autocomplete(choices))
                    .await
                    .map_err(|e| e.to_string())
            }
            Interaction::Component(c) => {
                let update = CreateInteractionResponseMessage::new()
                    .content(format!("acked by {}", c.user.name))
                    .components(vec![]);
                c.create_response(&ctx.http, CreateInteractionResponse::UpdateMessage(update))
                    .await
                    .map_err(|e| e.to_string())
            }
            other => Err(format!("unexpected interaction {other:?}")),
        };
        let _ = self.0.send(Seen::Handled(id, result));
    }
}

/// Defers, then edits the original response with an embed showing a PNG
/// attachment and an "ack" button.
async fn ping(ctx: &Context, cmd: &CommandInteraction) -> Result<(), String> {
    cmd.defer(&ctx.http)
        .await
        .map_err(|e| format!("defer: {e}"))?;
    let embed = CreateEmbed::new()
        .title("Memory")
        .image("attachment://chart.png");
    let edit = EditInteractionResponse::new()
        .content("pong")
        .embed(embed)
        .new_attachment(CreateAttachment::bytes(tiny_png(16, 8), "chart.png"))
        .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
            "ack",
        )
        .label("Ack")])]);
    let msg = cmd
        .edit_response(&ctx.http, edit)
        .await
        .map_err(|e| format!("edit: {e}"))?;
    match msg.attachments.first() {
        Some(a) if a.filename == "chart.png" && a.dimensions() == Some((16, 8)) => Ok(()),
        _ => Err(format!("edit answer lacks the attachment: {msg:?}")),
    }
}

struct Raw(mpsc::UnboundedSender<Seen>);

#[async_trait]
impl RawEventHandler for Raw {
    async fn raw_event(&self, _ctx: Context, ev: Event) {
        if let Event::Unknown(u) = ev {
            let _ = self.0.send(Seen::Unknown(format!("{u:?}")));
        }
    }
}

/// A serenity client connected to the emulator.
struct Bot {
    shards: Arc<ShardManager>,
    http: Arc<Http>,
    task: JoinHandle<serenity::Result<()>>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Bot {
    /// Starts the client and waits for READY and its command registration.
    async fn start(emu: &Emulator) -> Bot {
        let http = HttpBuilder::new(TOKEN)
            .proxy(emu.api_base())
            .ratelimiter_disabled(true)
            .build();
        let (tx, seen) = mpsc::unbounded_channel();
        let mut client = ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
            .event_handler(Handler(tx.clone()))
            .raw_event_handler(Raw(tx))
            .await
            .expect("client builds");
        let (shards, http) = (client.shard_manager.clone(), client.http.clone());
        let task = tokio::spawn(async move { client.start().await });
        let mut bot = Bot {
            shards,
            http,
            task,
            seen,
        };
        emu.wait_ready(T).await;
        match bot.next(emu).await {
            Seen::Registered(Ok(2)) => {}
            other => panic!("registration: {other:?}\n{}", emu.dump()),
        }
        bot
    }

    async fn next(&mut self, emu: &Emulator) -> Seen {
        match tokio::time::timeout(T, self.seen.recv()).await {
            Ok(Some(Seen::Unknown(u))) => panic!("serenity saw Event::Unknown: {u}"),
            Ok(Some(seen)) => seen,
            _ => panic!("the client reported nothing for {T:?}\n{}", emu.dump()),
        }
    }

    /// Waits until the handler finished the interaction; its result is Ok.
    async fn handled(&mut self, emu: &Emulator, sent: &Sent) {
        loop {
            match self.next(emu).await {
                Seen::Handled(id, r) if id == sent.interaction_id => {
                    return r.unwrap_or_else(|e| panic!("handler failed: {e}\n{}", emu.dump()))
                }
                _ => {}
            }
        }
    }

    async fn stop(self) {
        self.shards.shutdown_all().await;
        let mut task = self.task;
        if tokio::time::timeout(T, &mut task).await.is_err() {
            task.abort();
            panic!("the serenity client did not stop");
        }
    }
}

fn alice() -> Member {
    Member::new(4242, "alice").with_roles(&[77])
}

#[tokio::test(flavor = "multi_thread")]
async fn client_gets_ready_and_registers_commands() {
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu).await;
    let registered = emu.wait_commands(Some(GUILD_ID), T).await;
    let names: Vec<&str> = registered
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["ping", "svc"]);
    let put = emu
        .wait_for(T, |r| {
            r.is(
                "PUT",
                &format!("/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
            )
        })
        .await;
    assert_eq!(
        put.json.as_ref().and_then(|j| j.as_array()).map(Vec::len),
        Some(2)
    );
    let listed = bot
        .http
        .get_guild_commands(GuildId::new(GUILD_ID))
        .await
        .expect("list");
    let ids: Vec<String> = listed.iter().map(|c| c.id.to_string()).collect();
    let registered_ids: Vec<&str> = registered.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, registered_ids);
    let identify = emu.last_identify().expect("identified");
    assert!(
        identify["token"]
            .as_str()
            .unwrap_or_default()
            .contains(TOKEN),
        "{identify}"
    );
    assert_eq!(identify["intents"], GatewayIntents::GUILDS.bits());
    emu.wait_until(T, "a heartbeat", |e| {
        (e.heartbeat_count() > 0).then_some(())
    })
    .await;
    assert_eq!((emu.identify_count(), emu.resume_count()), (1, 0));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slash_ping_is_deferred_then_answered_with_embed_and_png() {
    let emu = Emulator::start().await;
    let mut bot = Bot::start(&emu).await;
    let sent = emu.slash(Slash::new("ping", alice(), THREAD_ID)).await;
    bot.handled(&emu, &sent).await;

    let mine: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.concerns(&sent))
        .collect();
    let shape: Vec<(&str, bool)> = mine
        .iter()
        .map(|r| (r.method.as_str(), r.path.ends_with("/callback")))
        .collect();
    assert_eq!(
        shape,
        [("POST", true), ("PATCH", false)],
        "defer, then edit"
    );
    assert_eq!(mine[0].json.as_ref().unwrap()["type"], 5);
    let edit = &mine[1];
    assert!(edit.path.ends_with("/messages/@original"), "{}", edit.path);
    assert_eq!(edit.json.as_ref().unwrap()["embeds"][0]["title"], "Memory");
    let (name, bytes) = &edit.files[0];
    assert_eq!(name, "chart.png");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.clone()));
    let reader = decoder.read_info().expect("the upload is a PNG");
    assert_eq!((reader.info().width, reader.info().height), (16, 8));

    let original = emu
        .original_response(sent.interaction_id)
        .expect("original");
    assert_eq!(original["content"], "pong");
    assert_eq!(original["flags"], 0, "no longer loading");
    assert_eq!(
        original["embeds"][0]["image"]["url"],
        original["attachments"][0]["url"]
    );
    assert_eq!(original["channel_id"], THREAD_ID.to_string());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn autocomplete_and_button_click_reach_the_handler() {
    let emu = Emulator::start().await;
    let mut bot = Bot::start(&emu).await;
    let typed = Slash::new("svc", alice(), INCIDENT_CHANNEL_ID).opt("service", "a");
    let ac = emu.autocomplete(typed, "service").await;
    bot.handled(&emu, &ac).await;
    let answer = emu.wait_for(T, |r| r.concerns(&ac)).await;
    assert_eq!(answer.json.unwrap()["type"], 8);
    let choices = emu
        .autocomplete_choices(ac.interaction_id)
        .expect("answered");
    assert_eq!(choices[0]["value"], "api");

    let sent = emu
        .slash(Slash::new("ping", alice(), INCIDENT_CHANNEL_ID))
        .await;
    bot.handled(&emu, &sent).await;
    let msg = emu
        .original_response(sent.interaction_id)
        .expect("original");
    let mid: u64 = msg["id"].as_str().unwrap().parse().unwrap();
    let click = emu.click(Click::button(mid, "ack", alice())).await;
    bot.handled(&emu, &click).await;
    let update = emu.wait_for(T, |r| r.concerns(&click)).await;
    assert_eq!(update.json.as_ref().unwrap()["type"], 7);
    assert_eq!(
        update.json.unwrap()["data"]["attachments"],
        serde_json::json!([])
    );
    // Interaction responses are in the channel, but not channel posts.
    assert!(emu.messages_in(INCIDENT_CHANNEL_ID).is_empty());
    assert_eq!(emu.all_messages_in(INCIDENT_CHANNEL_ID).len(), 1);
    let after = emu.message(mid).expect("still there");
    assert_eq!(after["content"], "acked by alice");
    assert_eq!(
        (
            after["components"].as_array().map(Vec::len),
            after["attachments"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_post_with_file_is_recorded_and_listed() {
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu).await;
    let report = b"rss 512 MiB\n".to_vec();
    let post = CreateMessage::new()
        .content("incident report")
        .add_file(CreateAttachment::bytes(report.clone(), "report.txt"));
    let msg = ChannelId::new(OTHER_CHANNEL_ID)
        .send_message(&bot.http, post)
        .await
        .expect("post");
    let path = format!("/channels/{OTHER_CHANNEL_ID}/messages");
    let rec = emu.wait_for(T, |r| r.is("POST", &path)).await;
    assert_eq!(rec.files, [("report.txt".to_string(), report.clone())]);
    let listed = emu.messages_in(OTHER_CHANNEL_ID);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], msg.id.to_string());
    assert_eq!(listed[0]["attachments"][0]["filename"], "report.txt");
    assert_eq!(msg.attachments[0].size as usize, report.len());
    assert!(emu.messages_in(INCIDENT_CHANNEL_ID).is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_resumes_after_the_gateway_breaks() {
    let emu = Emulator::start().await;
    let mut bot = Bot::start(&emu).await;
    for how in [
        GatewayDrop::Close4000,
        GatewayDrop::Tcp,
        GatewayDrop::Reconnect,
    ] {
        let resumes = emu.resume_count();
        emu.drop_gateway(how).await;
        // Injected while the connection is down: replayed after RESUME.
        let sent = emu
            .slash(Slash::new("ping", alice(), INCIDENT_CHANNEL_ID))
            .await;
        emu.wait_until(T, "a RESUME", |e| {
            (e.resume_count() > resumes).then_some(())
        })
        .await;
        bot.handled(&emu, &sent).await;
        assert_eq!(
            emu.identify_count(),
            1,
            "{how:?}: resumed, not re-identified"
        );
        let after = emu
            .slash(Slash::new("ping", alice(), INCIDENT_CHANNEL_ID))
            .await;
        bot.handled(&emu, &after).await;
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_reidentifies_after_invalid_session() {
    let emu = Emulator::start().await;
    let mut bot = Bot::start(&emu).await;
    emu.drop_gateway(GatewayDrop::InvalidSession).await;
    // serenity waits about 5 s before identifying again.
    emu.wait_until(T, "a second IDENTIFY", |e| {
        (e.identify_count() == 2).then_some(())
    })
    .await;
    match bot.next(&emu).await {
        Seen::Registered(Ok(2)) => {}
        other => panic!("re-registration on the new READY: {other:?}"),
    }
    let sent = emu
        .slash(Slash::new("ping", alice(), INCIDENT_CHANNEL_ID))
        .await;
    bot.handled(&emu, &sent).await;
    assert_eq!(emu.resume_count(), 0);
    bot.stop().await;
}
