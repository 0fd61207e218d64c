//! A Discord emulator for integration tests: the REST API under `/api/v10`
//! and the gateway websocket at `/gateway`, served on 127.0.0.1 from inside
//! the test process. The bot under test (the real binary, or serenity used
//! directly) talks to it over real HTTP and WebSocket, exactly as it would to
//! Discord; tests inject interactions and read back what the bot sent.
//!
//! The world is fixed (one guild, two text channels, one thread; see the
//! constants). Everything the emulator emits is checked against serenity's own
//! model types in `tests.rs`, because serenity silently drops a gateway event
//! whose JSON lacks a required field. The emulator's own tests are all here:
//! `tests` (dispatches), `tests_payloads` (payload builders), `tests_rest`
//! (REST routes), `tests_interactions` (interaction rules) and
//! `tests_client` (a serenity client end to end).

// The API surface serves many bot tests; not every helper is used by every
// build of the suite.
#![allow(dead_code)]

mod api;
mod delivery;
mod gateway;
mod inject;
mod interactions;
mod mentions;
mod messages;
mod payloads;
mod rest;
mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_client;
#[cfg(test)]
mod tests_interactions;
#[cfg(test)]
mod tests_payloads;
#[cfg(test)]
mod tests_rest;
mod validate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

pub use api::{tiny_png, Click, GatewayDrop, Member, Recorded, Sent, Slash};
pub use mentions::notified;
use state::{ConnCmd, Shared};

pub const GUILD_ID: u64 = 1_100_000_000_000_000_001;
/// The application; as for modern Discord apps, the bot user has the same id.
pub const APP_ID: u64 = 1_100_000_000_000_000_002;
pub const BOT_USER_ID: u64 = APP_ID;
pub const BOT_NAME: &str = "incident-bot";
/// A text channel (type 0) where incidents are discussed.
pub const INCIDENT_CHANNEL_ID: u64 = 1_100_000_000_000_000_010;
/// Another text channel (type 0) of the guild.
pub const OTHER_CHANNEL_ID: u64 = 1_100_000_000_000_000_011;
/// A public thread (type 11) whose parent is `INCIDENT_CHANNEL_ID`.
pub const THREAD_ID: u64 = 1_100_000_000_000_000_012;
/// How long a bot has to answer an interaction (Discord: 3 s) unless changed
/// with [`Emulator::set_ack_deadline`].
pub const ACK_DEADLINE: Duration = Duration::from_secs(3);
/// How long `slash`/`autocomplete`/`click` wait for a gateway session and the
/// command's registration before panicking.
const INJECT_WAIT: Duration = Duration::from_secs(15);

/// The emulator. Clones share one server; it shuts down when the last clone
/// is dropped (the websocket connections are closed, the listener stops).
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
    _guard: Arc<ShutdownGuard>,
}

struct ShutdownGuard(watch::Sender<bool>);

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

impl Emulator {
    /// Binds 127.0.0.1:0 and serves REST and the gateway.
    pub async fn start() -> Emulator {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared::new(port, shutdown_rx.clone()));
        let app = rest::router(shared.clone());
        let mut stop = shutdown_rx;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { state::until_down(&mut stop).await })
                .await;
        });
        Emulator {
            shared,
            _guard: Arc::new(ShutdownGuard(shutdown_tx)),
        }
    }

    /// `http://127.0.0.1:PORT`, for `DISCORD_API_BASE` / serenity's proxy.
    pub fn api_base(&self) -> String {
        self.shared.base()
    }

    pub fn gateway_url(&self) -> String {
        format!("ws://127.0.0.1:{}/gateway", self.shared.port)
    }

    /// Waits until a client IDENTIFYed and was sent READY.
    pub async fn wait_ready(&self, timeout: Duration) {
        self.wait_until(timeout, "READY sent to an identified client", |e| {
            e.shared.read(|s| s.gateway.ready_count > 0).then_some(())
        })
        .await
    }

    /// The commands of the latest registration in a scope (`Some(guild)` or
    /// `None` for global), as the emulator answered them (ids assigned).
    pub fn registered_commands(&self, guild: Option<u64>) -> Vec<Value> {
        self.shared
            .read(|s| s.commands.get(&guild).cloned().unwrap_or_default())
    }

    /// Waits until at least one command is registered in the scope.
    pub async fn wait_commands(&self, guild: Option<u64>, timeout: Duration) -> Vec<Value> {
        self.wait_until(timeout, "a command registration", |e| {
            let cmds = e.registered_commands(guild);
            (!cmds.is_empty()).then_some(cmds)
        })
        .await
    }

    /// Dispatches INTERACTION_CREATE type 2 (application command). Waits (up
    /// to 15 s) for a gateway session and for the command's registration.
    pub async fn slash(&self, s: Slash) -> Sent {
        self.inject(move |st| inject::slash(st, &s, None)).await
    }

    /// Dispatches INTERACTION_CREATE type 4; option `focused` carries
    /// `focused: true` and its value as a string.
    pub async fn autocomplete(&self, s: Slash, focused: &str) -> Sent {
        let focused = focused.to_string();
        self.inject(move |st| inject::slash(st, &s, Some(&focused)))
            .await
    }

    /// Dispatches INTERACTION_CREATE type 3 for a component of a stored
    /// message (the full message is included). Panics if the message or the
    /// custom_id is unknown, or the component is disabled.
    pub async fn click(&self, c: Click) -> Sent {
        self.inject(move |st| inject::click(st, &c, true)).await
    }

    /// A click Discord's client would not send: on a disabled button (a
    /// stale message) or with a custom id the message does not have (a
    /// forged request).
    pub async fn click_raw(&self, c: Click) -> Sent {
        self.inject(move |st| inject::click(st, &c, false)).await
    }

    async fn inject(
        &self,
        build: impl Fn(&mut state::State) -> Result<Sent, inject::Fail>,
    ) -> Sent {
        let deadline = Instant::now() + INJECT_WAIT;
        let mut rx = self.shared.changed.subscribe();
        loop {
            rx.borrow_and_update();
            let why = match self.shared.try_write(&build) {
                Ok(sent) => {
                    self.deliver_outbox().await;
                    return sent;
                }
                Err(inject::Fail::NotYet(why)) => why,
                Err(inject::Fail::Invalid(why)) => {
                    panic!("invalid interaction: {why}\n{}", self.dump())
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, rx.changed()).await.is_err() {
                panic!("cannot inject the interaction: {why}\n{}", self.dump());
            }
        }
    }

    /// Every REST request so far, in arrival order (the "CDN" attachment
    /// downloads under `/attachments/` included).
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.read(|s| s.requests.clone())
    }

    /// Waits for a recorded request matching `pred` (earlier ones count too:
    /// filter with `Recorded::concerns` or `at`). Panics with a dump.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&Recorded) -> bool) -> Recorded {
        self.wait_until(timeout, "a matching request", |e| {
            e.shared
                .read(|s| s.requests.iter().find(|r| pred(r)).cloned())
        })
        .await
    }

    /// Polls `f` on every change of the emulator's state until it returns
    /// `Some`; panics with a dump of the requests after `timeout`.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut(&Emulator) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.shared.changed.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(v) = f(self) {
                return v;
            }
            if !matches!(
                tokio::time::timeout_at(deadline, rx.changed()).await,
                Ok(Ok(()))
            ) {
                panic!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.dump()
                );
            }
        }
    }

    /// Breaks the live gateway connection(s) of the current session.
    pub async fn drop_gateway(&self, how: GatewayDrop) {
        let sent = self.shared.read(|s| {
            let cmd = match how {
                GatewayDrop::Close4000 => ConnCmd::Close(4000, "emulator: resumable close"),
                GatewayDrop::Tcp => ConnCmd::Abort,
                GatewayDrop::Reconnect => ConnCmd::Frame(r#"{"op":7,"d":null}"#.into(), None),
                GatewayDrop::InvalidSession => ConnCmd::Frame(r#"{"op":9,"d":false}"#.into(), None),
            };
            s.gateway.send_to_session(cmd)
        });
        assert!(
            sent > 0,
            "no live gateway connection to drop\n{}",
            self.dump()
        );
    }

    pub fn identify_count(&self) -> usize {
        self.shared.read(|s| s.gateway.identify_count)
    }
    pub fn resume_count(&self) -> usize {
        self.shared.read(|s| s.gateway.resume_count)
    }
    pub fn heartbeat_count(&self) -> usize {
        self.shared.read(|s| s.gateway.heartbeat_count)
    }
    /// The `d` of the latest IDENTIFY (token, intents, shard, ...).
    pub fn last_identify(&self) -> Option<Value> {
        self.shared.read(|s| s.gateway.last_identify.clone())
    }

    /// Messages the bot posted with POST /channels/{id}/messages, current
    /// state (edits applied), oldest first.
    pub fn messages_in(&self, channel_id: u64) -> Vec<Value> {
        self.shared.read(|s| s.messages_in(channel_id, false))
    }
    /// The direct messages the bot sent `user`, oldest first.
    pub fn direct_messages(&self, user: u64) -> Vec<Value> {
        self.shared.read(|s| {
            s.dm_channel(user)
                .map(|c| s.messages_in(c, false))
                .unwrap_or_default()
        })
    }
    /// Every message in the channel, interaction responses included.
    pub fn all_messages_in(&self, channel_id: u64) -> Vec<Value> {
        self.shared.read(|s| s.messages_in(channel_id, true))
    }
    /// A message `member` wrote in `channel` (stored, as if typed in the
    /// client; the bot is not told). Returns its id.
    pub fn user_message(&self, channel: u64, member: &Member, content: &str) -> u64 {
        self.shared.write(|s| {
            let id = state::snowflake();
            let mut m = payloads::message(id, channel, 0, false);
            m["author"] = payloads::user(member.user_id, &member.name, false);
            m["content"] = serde_json::json!(content);
            s.store_raw(m, true)
        })
    }

    /// `member` reacts to message `message` of `channel` with `emoji`:
    /// MESSAGE_REACTION_ADD is dispatched, as Discord does, only to a bot
    /// that identified with the GUILD_MESSAGE_REACTIONS intent (`false`
    /// otherwise: nothing was sent).
    pub fn react(&self, channel: u64, message: u64, member: &Member, emoji: &str) -> bool {
        self.shared.write(|s| {
            let intents = s
                .gateway
                .last_identify
                .as_ref()
                .and_then(|d| d["intents"].as_u64())
                .unwrap_or(0);
            if intents & (1 << 10) == 0 {
                return false;
            }
            let d = serde_json::json!({
                "user_id": member.user_id.to_string(),
                "channel_id": channel.to_string(),
                "message_id": message.to_string(),
                "guild_id": GUILD_ID.to_string(),
                "member": payloads::member(member),
                "emoji": {"id": null, "name": emoji},
                "burst": false,
                "type": 0,
            });
            s.dispatch("MESSAGE_REACTION_ADD", d, None).is_some()
        })
    }

    pub fn message(&self, id: u64) -> Option<Value> {
        self.shared
            .read(|s| s.messages.get(&id).map(|m| m.json.clone()))
    }
    /// The interaction's original response message (current state).
    pub fn original_response(&self, interaction_id: u64) -> Option<Value> {
        self.shared.read(|s| {
            let id = s.interactions.get(&interaction_id)?.original?;
            s.messages.get(&id).map(|m| m.json.clone())
        })
    }
    pub fn followups(&self, interaction_id: u64) -> Vec<Value> {
        self.shared.read(|s| {
            let Some(ix) = s.interactions.get(&interaction_id) else {
                return Vec::new();
            };
            ix.followups
                .iter()
                .filter_map(|id| s.messages.get(id).map(|m| m.json.clone()))
                .collect()
        })
    }
    /// The callback type the bot answered the interaction with, if any.
    pub fn response_type(&self, interaction_id: u64) -> Option<u64> {
        self.shared
            .read(|s| s.interactions.get(&interaction_id)?.responded)
    }
    /// The choices the bot answered an autocomplete interaction with.
    pub fn autocomplete_choices(&self, interaction_id: u64) -> Option<Value> {
        self.shared
            .read(|s| s.interactions.get(&interaction_id)?.choices.clone())
    }
    /// A channel (the fixed ones and threads the bot created).
    pub fn channel(&self, id: u64) -> Option<Value> {
        self.shared.read(|s| s.channels.get(&id).cloned())
    }
    /// An uploaded attachment: (filename, bytes).
    pub fn attachment(&self, id: u64) -> Option<(String, Vec<u8>)> {
        self.shared.read(|s| {
            let a = s.attachments.get(&id)?;
            Some((a.filename.clone(), a.data.clone()))
        })
    }
    /// From now on every identified session gets every dispatch (several
    /// bot processes on one token, as Discord does), not only the latest.
    pub fn deliver_to_every_session(&self) {
        self.shared.write(|s| s.every_session = true);
    }

    /// Who each request the bot made would notify on Discord, for the
    /// requests that would notify anyone (see [`mentions`]).
    pub fn notifications(&self) -> Vec<(Recorded, mentions::Notified)> {
        self.requests()
            .into_iter()
            .filter_map(|r| {
                let n = mentions::notified(&r)?;
                (!n.is_empty()).then_some((r, n))
            })
            .collect()
    }

    /// Changes the interaction answer deadline (`None`: no deadline).
    pub fn set_ack_deadline(&self, deadline: Option<Duration>) {
        self.shared.write(|s| s.ack_deadline = deadline);
    }

    /// A readable list of the requests and the gateway counters.
    pub fn dump(&self) -> String {
        self.shared.read(|s| s.dump())
    }
}
