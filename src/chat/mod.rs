//! The Discord front end: the only module that knows serenity.
//!
//! - [`connect`] builds the client (bounded requests; a proxy and no
//!   ratelimiter when `DISCORD_API_BASE` names a Discord-compatible API);
//!   [`DiscordChat`] is the application's chat port over its REST API, so
//!   loops post without a gateway session;
//! - [`Gateway::run`] runs the gateway session: registers one slash-command
//!   group per runbook (from `core::commands::spec`, so runbooks need no
//!   Rust change) and hands interactions to the command pipeline
//!   (`pipeline.rs`: admit, acknowledge, run, reply, record), to
//!   autocomplete, or to the click handler;
//! - or, with `fleet.interactions = "http"`, no gateway at all: the
//!   [`Endpoint`] takes interactions Discord POSTs (signed) through the
//!   HTTP front end, and the commands are registered over REST;
//! - `outgoing.rs` is the one place messages are built, with their allowed
//!   mentions.
//!
//! It never runs anything a user typed; options are typed and checked.

mod autocomplete;
mod claim;
mod click;
mod commands;
mod endpoint;
mod handler;
mod input;
mod outgoing;
mod pipeline;
mod port;
mod register;
mod reply;
mod responder;
mod session;

pub use endpoint::{Endpoint, Received};
pub use port::DiscordChat;

use crate::app::App;
use crate::config::Settings;
use serenity::all::{Client, ClientBuilder, GatewayIntents, HttpBuilder};
use std::future::Future;
use std::sync::{Arc, OnceLock};

#[derive(Debug, thiserror::Error)]
pub enum ChatStartError {
    #[error("the Discord client stopped: {0}")]
    Client(Box<serenity::Error>),
    #[error("the HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl From<serenity::Error> for ChatStartError {
    fn from(e: serenity::Error) -> ChatStartError {
        ChatStartError::Client(Box::new(e))
    }
}

/// The Discord client, built but not yet connected: its REST client
/// serves the application's chat port at once (one client, so one
/// ratelimiter), and [`Gateway::run`] connects the session once the
/// application exists.
pub struct Gateway {
    /// The first session's client; its REST client is the chat port.
    client: Option<Client>,
    /// For the sessions after it (a fleet's node may hold the lease, lose
    /// it, and hold it again: each time a client of its own).
    settings: Settings,
    app: Arc<OnceLock<Arc<App>>>,
}

/// Builds the Discord client the settings describe (no connection yet).
pub async fn connect(settings: &Settings) -> Result<Gateway, ChatStartError> {
    let app = Arc::new(OnceLock::new());
    let client = client(settings, &app).await?;
    Ok(Gateway {
        client: Some(client),
        settings: settings.clone(),
        app,
    })
}

/// One serenity client for `settings`, its events going to `app`.
async fn client(
    settings: &Settings,
    app: &Arc<OnceLock<Arc<App>>>,
) -> Result<Client, ChatStartError> {
    // serenity's default client waits forever on a stalled connection, which
    // would pin a handler; bound every Discord request instead.
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let token = settings.secrets.discord_token()?;
    let mut http = HttpBuilder::new(token.expose()).client(client);
    if let Some(base) = settings.secrets.discord_api_base()? {
        // serenity's ratelimiter talks to discord.com directly and ignores
        // the proxy, so a proxy only takes effect with it off.
        http = http.proxy(base).ratelimiter_disabled(true);
        tracing::info!(api_base = %base, "using a Discord-compatible API base");
    }
    // Slash commands need no privileged intent; GUILDS is the minimum the
    // gateway accepts usefully, and GUILD_MESSAGE_REACTIONS (not
    // privileged) brings the 📌 reactions that add messages to a timeline.
    let intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGE_REACTIONS;
    Ok(ClientBuilder::new_with_http(http.build(), intents)
        .event_handler(handler::Handler::new(app.clone()))
        .await?)
}

impl Gateway {
    /// The application's chat port over this client's REST API.
    pub fn chat(&self) -> DiscordChat {
        DiscordChat::new(self.http())
    }

    fn http(&self) -> Arc<serenity::all::Http> {
        let client = self
            .client
            .as_ref()
            .expect("the first client is kept until run");
        client.http.clone()
    }

    /// The interactions endpoint for `app`, when interactions come over
    /// HTTP (`fleet.interactions = "http"`): `Err` when the public key to
    /// verify them with is missing or invalid.
    pub fn endpoint(&self, app: &Arc<App>) -> Result<Option<Arc<Endpoint>>, ChatStartError> {
        if app.settings.fleet.interactions != crate::config::Interactions::Http {
            return Ok(None);
        }
        let key = app.settings.secrets.discord_public_key()?;
        let verifier =
            endpoint::verifier(key.expose()).map_err(crate::config::ConfigError::Invalid)?;
        Ok(Some(Arc::new(Endpoint::new(
            verifier,
            app.clone(),
            self.http(),
        ))))
    }

    /// Runs the gateway session for `app` until it ends for good or `stop`
    /// resolves, then closes it cleanly. In a fleet with gateway
    /// interactions, only while this node holds the gateway lease
    /// (`session::under_lease`).
    pub async fn run(
        mut self,
        app: Arc<App>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ChatStartError> {
        let _ = self.app.set(app.clone());
        let fleet = &app.settings.fleet;
        if fleet.interactions == crate::config::Interactions::Http {
            let http = self.http();
            return endpoint::serve(http, app, stop).await;
        }
        if fleet.enabled {
            return session::under_lease(self, app, stop).await;
        }
        let mut client = self
            .client
            .take()
            .expect("the first client is kept until run");
        let shards = client.shard_manager.clone();
        tokio::spawn(async move {
            stop.await;
            tracing::info!("stopping: closing the gateway connection");
            shards.shutdown_all().await;
        });
        client.start().await?;
        Ok(())
    }
}
