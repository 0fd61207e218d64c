//! Discord's interactions endpoint (`fleet.interactions = "http"`): Discord
//! POSTs each interaction, signed with Ed25519, to a URL the team puts
//! behind an ordinary load balancer, so every node can answer and no
//! gateway session is needed.
//!
//! Checked in this order, before anything else is read: the signature
//! over timestamp and body against the application's public key, then the
//! timestamp (at most five minutes off, so an old request cannot be
//! replayed after its claim is forgotten), then the body. A PING is
//! answered with a PONG. Every command and click is claimed once, in this
//! process and in the database (only while the database is known to be
//! away does this process's own record decide; a claim that fails while it
//! is up is not answered): a replayed request is refused, never run twice. The first answer goes back in the
//! response body (`Responder::body`); the rest (edits, follow-ups) over
//! the REST API, as over the gateway.

use super::handler::dispatch;
use super::responder::Responder;
use crate::app::App;
use crate::core::commands::CommandSpec;
use dashmap::DashMap;
use serenity::all::{Http, Interaction};
use serenity::interactions_endpoint::Verifier;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How far a request's timestamp may be from this host's clock.
const SKEW_SECS: i64 = 300;

/// A claim must leave time to answer within Discord's 3 s.
const CLAIM_WITHIN: Duration = Duration::from_millis(1500);

/// The first answer must reach Discord within 3 s of its request.
const ANSWER_WITHIN: Duration = Duration::from_millis(2500);

/// What became of one POST, for the HTTP front end to send.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// 200 with this JSON body (a PONG, or the interaction's first answer).
    Answer(Vec<u8>),
    /// 401: the signature or its timestamp does not hold.
    Unauthorized(&'static str),
    /// 400: signed, but not an interaction.
    BadBody(String),
    /// 409: answered already (a replay, or another node's).
    Duplicate,
    /// 500: no answer in time (the bot's log says why).
    Unanswered,
}

/// The endpoint: the key it verifies with and what it hands interactions
/// to.
pub struct Endpoint {
    verifier: Verifier,
    app: Arc<App>,
    specs: Vec<CommandSpec>,
    http: Arc<Http>,
    /// Interactions this process took, for replays while the database is
    /// away.
    seen: DashMap<u64, Instant>,
}

/// The public key as the developer portal shows it: 64 hex digits.
pub fn verifier(hex: &str) -> Result<Verifier, String> {
    let hex = hex.trim();
    let bytes: Option<Vec<u8>> = (hex.len() == 64)
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    let bytes: [u8; 32] = bytes
        .and_then(|b| b.try_into().ok())
        .ok_or("DISCORD_PUBLIC_KEY must be 64 hex digits")?;
    Verifier::try_new(bytes).map_err(|e| format!("DISCORD_PUBLIC_KEY is not a valid key: {e}"))
}

impl Endpoint {
    pub(super) fn new(verifier: Verifier, app: Arc<App>, http: Arc<Http>) -> Endpoint {
        let specs = super::commands::specs(&app);
        Endpoint {
            verifier,
            app,
            specs,
            http,
            seen: DashMap::new(),
        }
    }

    /// One POST: its two signature headers (if sent), its body, and this
    /// host's clock in Unix seconds.
    pub async fn receive(
        self: &Arc<Self>,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Received {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
            return Received::Unauthorized("missing signature headers");
        };
        if self.verifier.verify(signature, timestamp, body).is_err() {
            return Received::Unauthorized("invalid request signature");
        }
        match timestamp.trim().parse::<i64>() {
            Ok(t) if (now - t).abs() <= SKEW_SECS => {}
            _ => return Received::Unauthorized("stale or malformed timestamp"),
        }
        let interaction: Interaction = match serde_json::from_slice(body) {
            Ok(i) => i,
            Err(e) => return Received::BadBody(format!("not an interaction: {e}")),
        };
        let id = match &interaction {
            Interaction::Ping(_) => return Received::Answer(br#"{"type":1}"#.to_vec()),
            Interaction::Command(c) | Interaction::Autocomplete(c) => c.id.get(),
            Interaction::Component(b) => b.id.get(),
            _ => return Received::BadBody("an interaction this bot does not take".into()),
        };
        if !self.first_time(id) {
            tracing::warn!(interaction = id, "a replayed interaction was refused");
            return Received::Duplicate;
        }
        // Autocomplete changes nothing: never claimed in the database.
        if !matches!(interaction, Interaction::Autocomplete(_)) && !self.claim(id).await {
            return Received::Duplicate;
        }
        let (responder, answer) = Responder::body(self.http.clone());
        let this = self.clone();
        // The interaction goes on after its first answer (the reply is
        // edited in), on its own task.
        tokio::spawn(
            async move { dispatch(&this.app, &this.specs, &responder, interaction).await },
        );
        match tokio::time::timeout(ANSWER_WITHIN, answer).await {
            Ok(Ok(json)) => Received::Answer(json),
            _ => {
                tracing::error!(interaction = id, "no answer within Discord's deadline");
                Received::Unanswered
            }
        }
    }

    /// Whether this node answers `id`: the database's claim decides (see
    /// `unclaimed` for when it cannot be asked).
    async fn claim(&self, id: u64) -> bool {
        let node = &self.app.settings.fleet.node;
        let ask = self.app.store.claim_interaction(id, node, None);
        match tokio::time::timeout(CLAIM_WITHIN, ask).await {
            Ok(Ok(mine)) => {
                if !mine {
                    tracing::info!(interaction = id, "not answered: claimed by another node");
                }
                mine
            }
            Ok(Err(e)) => self.unclaimed(id, &crate::cause_chain(&e)),
            Err(_) => self.unclaimed(id, "no answer in time"),
        }
    }

    /// Whether to answer `id` without its claim in the database: only
    /// while the database is known to be away (an outage: diagnosis keeps
    /// answering, from this node's own record). A claim that fails while
    /// the database is up is not answered: another node may hold it.
    fn unclaimed(&self, id: u64, why: &str) -> bool {
        let outage = !self.app.health.db_ready();
        if outage {
            tracing::warn!(interaction = id, error = %why, "the database is away: answered by this node's own record");
        } else {
            tracing::warn!(interaction = id, error = %why, "not answered: the interaction could not be claimed");
        }
        outage
    }

    /// Whether this process sees `id` for the first time (entries older
    /// than the timestamp window are forgotten: their requests are refused
    /// by the timestamp check).
    fn first_time(&self, id: u64) -> bool {
        let now = Instant::now();
        let window = Duration::from_secs(SKEW_SECS as u64 * 2);
        if self.seen.len() > 10_000 {
            self.seen.retain(|_, at| now.duration_since(*at) < window);
        }
        match self.seen.entry(id) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(v) => {
                v.insert(now);
                true
            }
        }
    }
}

/// With interactions over HTTP, no gateway session runs: the commands are
/// registered over the REST API (again after a failure, every 30 s), then
/// nothing more until `stop`.
pub(super) async fn serve(
    http: Arc<Http>,
    app: Arc<App>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), super::ChatStartError> {
    let specs = super::commands::specs(&app);
    let register = async {
        loop {
            match register(&http, &app, &specs).await {
                Ok(n) => {
                    app.health.set_gateway(true);
                    tracing::info!(
                        commands = n,
                        "interactions over HTTP; slash commands registered"
                    );
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "registering slash commands failed; trying again in 30 s");
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            }
        }
    };
    tokio::pin!(stop);
    tokio::select! {
        _ = register => stop.await,
        _ = &mut stop => {}
    }
    tracing::info!("stopping");
    Ok(())
}

async fn register(http: &Http, app: &App, specs: &[CommandSpec]) -> Result<usize, serenity::Error> {
    if http.application_id().is_none() {
        let info = http.get_current_application_info().await?;
        http.set_application_id(info.id);
    }
    let guild = serenity::all::GuildId::new(app.settings.discord.guild_id);
    let commands = specs.iter().map(super::register::command).collect();
    Ok(guild.set_commands(http, commands).await?.len())
}
