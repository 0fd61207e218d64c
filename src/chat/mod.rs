//! The Discord front end: the only module that knows serenity.
//!
//! `serve` connects to the gateway, registers one slash-command group per
//! runbook (from `core::commands::spec`, so runbooks need no Rust change) in
//! the configured guild, and answers interactions: it checks input and roles
//! first, acknowledges within Discord's 3-second deadline, runs the step
//! through `diagnose`, and posts the report into the incident channel.
//! It never runs anything a user typed; options are typed and checked.

mod alerts;
mod approvals;
mod causes;
mod embed;
mod escalations;
mod handler;
mod incidents;
mod input;
mod oom;
mod outgoing;
mod register;
mod reply;
mod runbook;
mod steps;
mod updates;
mod verify;

use crate::config::{DiscordEnv, Settings};
use crate::core::alerting::AlertEvent;
use crate::core::runbook::Runbook;
use crate::health::Health;
use crate::store::Store;
use crate::watch::Watcher;
use serenity::all::{ClientBuilder, GatewayIntents, HttpBuilder};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the Discord client stopped: {0}")]
    Client(#[from] serenity::Error),
    #[error("the HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the HTTP endpoints could not listen: {0}")]
    Listen(String),
}

/// Everything a handler needs, shared by all interactions.
pub(crate) struct Shared {
    pub settings: Settings,
    pub runbooks: Vec<Runbook>,
    /// DOCKER_HOST as the process saw it at start-up.
    pub docker_host_env: Option<String>,
    /// The monitored application's PostgreSQL URL, if configured.
    pub app_db: Option<crate::config::Secret>,
    pub store: Store,
    /// Whether the database can record right now (migrated and answering)
    /// and whether the gateway is connected; commands that must be recorded
    /// wait briefly for the database, then refuse.
    pub health: Arc<Health>,
    /// The live watcher: `/mem status` answers from it, `/mem leaks` reads
    /// its history.
    pub watcher: Arc<Watcher>,
    /// Alerts from the watcher and the HTTP intake; taken by the first
    /// READY, which starts handling them.
    pub alerts: std::sync::Mutex<Option<mpsc::Receiver<AlertEvent>>>,
    /// Whether the approval expiry loop runs already.
    pub expiry_started: AtomicBool,
    /// Containers watched for OOM downtime now, with their latest kill.
    pub oom_watch: dashmap::DashMap<String, time::OffsetDateTime>,
    /// This process, as named in execution claims: host, process id and
    /// start time, so a restarted bot is never mistaken for its
    /// predecessor.
    pub instance: String,
}

impl Shared {
    pub fn db_ready(&self) -> bool {
        self.health.db_ready()
    }

    /// The probes a step from Discord runs with: the watched scope, the
    /// live watcher and the monitored database.
    pub fn probes<'a>(&'a self, scope: &'a crate::config::Scope) -> crate::diagnose::Probes<'a> {
        crate::diagnose::Probes {
            settings: &self.settings,
            scope,
            docker_host_env: self.docker_host_env.clone(),
            watcher: Some(&self.watcher),
            app_db: self.app_db.as_ref(),
        }
    }
}

/// Runs the bot until the gateway connection ends for good or the process
/// is asked to stop (SIGINT/SIGTERM), then closes the gateway cleanly.
pub async fn serve(
    settings: Settings,
    runbooks: Vec<Runbook>,
    env: DiscordEnv,
    store: Store,
    docker_host_env: Option<String>,
) -> Result<(), ServeError> {
    // serenity's default client waits forever on a stalled connection, which
    // would pin a handler; bound every Discord request instead.
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let mut http = HttpBuilder::new(env.token.expose()).client(client);
    if let Some(base) = &env.api_base {
        // serenity's ratelimiter talks to discord.com directly and ignores
        // the proxy, so a proxy only takes effect with it off.
        http = http.proxy(base.clone()).ratelimiter_disabled(true);
        tracing::info!(api_base = %base, "using a Discord-compatible API base");
    }
    if settings.discord.responder_role_ids.is_empty() {
        tracing::warn!(
            "discord.responder_role_ids is empty: every command will be refused until responder roles are configured"
        );
    }
    // Alerts queue here until Discord is connected; the watcher and the
    // HTTP intake wait (backpressure) rather than drop when it is full.
    let (alert_tx, alert_rx) = mpsc::channel(256);
    let health = Arc::new(Health::default());
    let watcher = Watcher::new(
        settings.clone(),
        &runbooks,
        docker_host_env.clone(),
        store.clone(),
        health.clone(),
        alert_tx.clone(),
    );
    watcher.spawn();
    let shared = Arc::new(Shared {
        settings,
        runbooks,
        docker_host_env,
        app_db: env.app_db.clone(),
        store,
        health: health.clone(),
        watcher,
        alerts: std::sync::Mutex::new(Some(alert_rx)),
        expiry_started: AtomicBool::new(false),
        instance: instance_name(),
        oom_watch: Default::default(),
    });
    crate::http::spawn(crate::http::State {
        listen: shared.settings.http.listen.clone(),
        watcher: shared.watcher.clone(),
        store: shared.store.clone(),
        health: health.clone(),
        token: env.alertmanager_token.clone(),
        alerts: alert_tx,
        refusal_audit_every: std::time::Duration::from_secs(
            shared.settings.http.refusal_audit_secs.max(1),
        ),
        refusals: Default::default(),
    })
    .await
    .map_err(ServeError::Listen)?;
    // Discord first, database in the background: diagnosis must work even
    // while PostgreSQL is down, and the bot keeps trying to reach it.
    let roster = shared
        .settings
        .discord
        .roster
        .iter()
        .map(|(role, user)| (role.clone(), *user))
        .collect();
    tokio::spawn(crate::health::supervise_database(
        shared.store.clone(),
        health,
        roster,
    ));
    // Slash commands need no privileged intent; GUILDS is the minimum the
    // gateway accepts usefully.
    let mut client = ClientBuilder::new_with_http(http.build(), GatewayIntents::GUILDS)
        .event_handler(handler::Handler::new(shared))
        .await?;
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: closing the gateway connection");
        shards.shutdown_all().await;
    });
    client.start().await?;
    Ok(())
}

/// `host:pid:start` of this process.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp()
    )
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
