//! The emulator's world and bookkeeping: channels, messages, attachments,
//! registered commands, interactions, gateway sessions, recorded requests.
//! One mutex guards it all; every mutation bumps a watch counter so waiters
//! (`Emulator::wait_until`) re-check on change instead of sleeping.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::{payloads, Recorded, ACK_DEADLINE};

pub(super) struct Shared {
    pub port: u16,
    state: Mutex<State>,
    pub changed: watch::Sender<u64>,
    pub shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub fn new(port: u16, shutdown: watch::Receiver<bool>) -> Shared {
        Shared {
            port,
            state: Mutex::new(State::new(port)),
            changed: watch::channel(0).0,
            shutdown,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not wedge the server for the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Like `write`, but wakes waiters only on `Ok`: `f` must not mutate
    /// the state when it fails.
    pub fn try_write<T, E>(&self, f: impl FnOnce(&mut State) -> Result<T, E>) -> Result<T, E> {
        let r = f(&mut self.lock());
        if r.is_ok() {
            self.changed.send_modify(|n| *n += 1);
        }
        r
    }

    /// Mutates the state, then wakes every waiter.
    pub fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.lock());
        self.changed.send_modify(|n| *n += 1);
        r
    }
}

pub(super) struct StoredMessage {
    pub json: Value,
    /// Posted with POST /channels/{id}/messages (not an interaction response).
    pub from_channel_post: bool,
}

pub(super) struct StoredAttachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// An interaction the emulator dispatched, and how the bot answered it.
pub(super) struct Interaction {
    pub token: String,
    /// 2 command, 3 component, 4 autocomplete.
    pub kind: u64,
    pub channel_id: u64,
    /// For components: the message the component is on.
    pub message_id: Option<u64>,
    pub created: Instant,
    /// When the dispatch was written to a connection; the answer deadline
    /// counts from here so a replay after resume is not penalised.
    pub delivered_at: Option<Instant>,
    pub responded: Option<u64>,
    pub original: Option<u64>,
    pub followups: Vec<u64>,
    /// For autocomplete: the choices the bot answered.
    pub choices: Option<Value>,
}

pub(super) enum ConnCmd {
    /// A frame, and the interaction it carries (marked delivered once it
    /// is written to the socket).
    Frame(String, Option<u64>),
    Close(u16, &'static str),
    Abort,
}

pub(super) struct Conn {
    pub tx: mpsc::UnboundedSender<ConnCmd>,
    pub session: Option<String>,
}

pub(super) struct LoggedFrame {
    pub seq: u64,
    pub frame: String,
    pub interaction: Option<u64>,
}

pub(super) struct Session {
    pub id: String,
    pub log: Vec<LoggedFrame>,
}

#[derive(Default)]
pub(super) struct Gateway {
    /// The latest IDENTIFY's session; older sessions cannot be resumed.
    pub session: Option<Session>,
    pub conns: HashMap<u64, Conn>,
    pub next_conn: u64,
    pub identify_count: usize,
    pub resume_count: usize,
    pub heartbeat_count: usize,
    pub ready_count: usize,
    pub last_identify: Option<Value>,
}

impl Gateway {
    /// Sends a command to every connection bound to the current session;
    /// returns how many got it.
    pub fn send_to_session(&self, cmd: ConnCmd) -> usize {
        let Some(session) = &self.session else {
            return 0;
        };
        let mut n = 0;
        for conn in self.conns.values() {
            if conn.session.as_deref() == Some(session.id.as_str()) {
                let c = match &cmd {
                    ConnCmd::Frame(f, ix) => ConnCmd::Frame(f.clone(), *ix),
                    ConnCmd::Close(code, why) => ConnCmd::Close(*code, why),
                    ConnCmd::Abort => ConnCmd::Abort,
                };
                n += usize::from(conn.tx.send(c).is_ok());
            }
        }
        n
    }
}

pub(super) struct State {
    pub port: u16,
    pub started: Instant,
    pub requests: Vec<Recorded>,
    /// Registered commands per scope: `Some(guild)` or `None` (global).
    pub commands: HashMap<Option<u64>, Vec<Value>>,
    pub channels: BTreeMap<u64, Value>,
    /// Keyed by snowflake, so iteration is creation order.
    pub messages: BTreeMap<u64, StoredMessage>,
    pub attachments: HashMap<u64, StoredAttachment>,
    pub interactions: HashMap<u64, Interaction>,
    pub tokens: HashMap<String, u64>,
    pub gateway: Gateway,
    pub ack_deadline: Option<Duration>,
    pub sessions_started: u64,
    /// Deliver dispatches to every identified session, not only the
    /// latest: what Discord does for several processes on one token (each
    /// gets every interaction, and the first to answer wins).
    pub every_session: bool,
    /// Interactions go to the bot's interactions endpoint instead of the
    /// gateway (`delivery.rs`); built ones wait in `outbox` until sent.
    pub http_delivery: Option<super::delivery::Delivery>,
    pub outbox: Vec<super::delivery::Outgoing>,
    pub delivered: Vec<super::delivery::Delivered>,
}

impl State {
    /// The direct-message channel with `user` (POST /users/@me/channels),
    /// opened on first use; Discord gives the same one again after that.
    pub fn open_dm(&mut self, user: u64) -> Value {
        if let Some(c) = self.dm_channel(user) {
            return self.channels[&c].clone();
        }
        let id = snowflake();
        let channel = serde_json::json!({
            "id": id.to_string(),
            "type": 1,
            "last_message_id": null,
            "flags": 0,
            "recipients": [payloads::user(user, "member", false)],
        });
        self.channels.insert(id, channel.clone());
        channel
    }

    /// The DM channel opened with `user`, if any.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.channels
            .iter()
            .find(|(_, c)| c["type"] == 1 && c["recipients"][0]["id"] == user.to_string().as_str())
            .map(|(id, _)| *id)
    }

    fn new(port: u16) -> State {
        State {
            port,
            started: Instant::now(),
            requests: Vec::new(),
            commands: HashMap::new(),
            channels: payloads::world_channels(),
            messages: BTreeMap::new(),
            attachments: HashMap::new(),
            interactions: HashMap::new(),
            tokens: HashMap::new(),
            gateway: Gateway::default(),
            ack_deadline: Some(ACK_DEADLINE),
            sessions_started: 0,
            every_session: false,
            http_delivery: None,
            outbox: Vec::new(),
            delivered: Vec::new(),
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Appends a dispatch to the current session's log and queues it on the
    /// connections bound to the session. Returns the sequence number, or
    /// `None` without a session.
    pub fn dispatch(&mut self, t: &str, d: Value, interaction: Option<u64>) -> Option<u64> {
        let session = self.gateway.session.as_mut()?;
        let seq = session.log.len() as u64 + 1;
        let frame = serde_json::json!({"op": 0, "s": seq, "t": t, "d": d}).to_string();
        for conn in self.gateway.conns.values() {
            let current = conn.session.as_deref() == Some(session.id.as_str());
            if current || (self.every_session && conn.session.is_some()) {
                let _ = conn.tx.send(ConnCmd::Frame(frame.clone(), interaction));
            }
        }
        session.log.push(LoggedFrame {
            seq,
            frame,
            interaction,
        });
        Some(seq)
    }

    pub fn mark_delivered(&mut self, interaction: Option<u64>) {
        if let Some(ix) = interaction.and_then(|id| self.interactions.get_mut(&id)) {
            ix.delivered_at.get_or_insert_with(Instant::now);
        }
    }

    pub fn messages_in(&self, channel_id: u64, all: bool) -> Vec<Value> {
        let ch = channel_id.to_string();
        self.messages
            .values()
            .filter(|m| (all || m.from_channel_post) && m.json["channel_id"] == ch.as_str())
            .map(|m| m.json.clone())
            .collect()
    }

    pub fn dump(&self) -> String {
        let g = &self.gateway;
        let mut out = format!(
            "emulator on :{}: identify={} resume={} ready={} heartbeats={} \
             live connections={} session={:?} dispatches={}\nrequests ({}):\n",
            self.port,
            g.identify_count,
            g.resume_count,
            g.ready_count,
            g.heartbeat_count,
            g.conns.len(),
            g.session.as_ref().map(|s| &s.id),
            g.session.as_ref().map_or(0, |s| s.log.len()),
            self.requests.len()
        );
        for r in &self.requests {
            let json = r.json.as_ref().map(|j| j.to_string()).unwrap_or_default();
            let json: String = json.chars().take(400).collect();
            let files: Vec<String> = r
                .files
                .iter()
                .map(|(n, b)| format!("{n} ({} B)", b.len()))
                .collect();
            let _ = writeln!(
                out,
                "  +{:.3}s {} {}{}{} -> {} {} {}",
                r.at.duration_since(self.started).as_secs_f64(),
                r.method,
                r.path,
                if r.query.is_empty() { "" } else { "?" },
                r.query,
                r.status,
                json,
                if files.is_empty() {
                    String::new()
                } else {
                    format!("files={files:?}")
                }
            );
        }
        out
    }
}

const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A fresh, strictly increasing snowflake with the current time in it, as
/// serenity derives creation times from ids.
pub(super) fn snowflake() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    let candidate = (ms - DISCORD_EPOCH_MS) << 22;
    let prev = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            Some(candidate.max(last + 1))
        })
        .expect("closure always returns Some");
    candidate.max(prev + 1)
}

/// Now, as the ISO 8601 text Discord uses for timestamps.
pub(super) fn now_iso() -> String {
    serenity::model::Timestamp::now().to_string()
}

/// Resolves once the emulator shuts down (or its handle is gone).
pub(super) async fn until_down(rx: &mut watch::Receiver<bool>) {
    loop {
        let down = *rx.borrow_and_update();
        if down || rx.changed().await.is_err() {
            return;
        }
    }
}
