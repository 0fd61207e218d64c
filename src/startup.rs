//! `serve`: builds the application once and starts everything around it.
//!
//! In order: what the settings must hold (secrets included) is checked,
//! so a missing piece fails at once with one sentence; then the store,
//! the one engine connection, health, the watcher, the Discord client (its
//! REST client is the application's chat port), the [`App`]; then the HTTP
//! front end, the database supervisor and the loops; and last the gateway
//! session, which runs until the process is asked to stop. Nothing waits
//! for Discord's READY: the loops run while the gateway is away.

use crate::app::{loops, App, Parts};
use crate::config::{ConfigError, Settings};
use crate::core::runbook::Runbook;
use crate::docker::{DockerError, Engine};
use crate::health::Health;
use crate::store::{Store, StoreError};
use crate::watch::Watcher;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Chat(#[from] crate::chat::ChatStartError),
    #[error("the HTTP endpoints could not listen: {0}")]
    Listen(String),
    /// Every problem of every file, for the caller to print.
    #[error("the runbooks are invalid; fix them (see `incident-bot runbook check`)")]
    Runbooks(Vec<crate::core::runbook::Problem>),
}

/// Checks what `serve` needs beyond the defaults, each with one sentence,
/// and loads the runbooks.
fn check(settings: &Settings) -> Result<Vec<Runbook>, ServeError> {
    let secrets = &settings.secrets;
    secrets.discord_token()?;
    secrets.discord_api_base()?;
    secrets.alertmanager_token()?;
    secrets.monitored_database_url()?;
    settings.check_discord()?;
    secrets.database_url()?;
    let runbooks = crate::runbooks::load_configured(settings).map_err(ServeError::Runbooks)?;
    let roles: Vec<String> = runbooks
        .iter()
        .flat_map(|rb| rb.roster_roles.iter().map(|r| r.get_ref().id.clone()))
        .collect();
    settings.check_roster(&roles)?;
    if settings.discord.responder_role_ids.is_empty() {
        tracing::warn!(
            "discord.responder_role_ids is empty: every command will be refused until responder roles are configured"
        );
    }
    Ok(runbooks)
}

/// The bot's own database, as the settings name it (not connected yet).
pub fn store(settings: &Settings) -> Result<Store, ServeError> {
    Ok(Store::new(settings.secrets.database_url()?)?)
}

/// Runs the bot until the gateway connection ends for good or the process
/// is asked to stop (SIGINT/SIGTERM).
pub async fn serve(settings: Settings) -> Result<(), ServeError> {
    let runbooks = check(&settings)?;
    let store = store(&settings)?;
    let engine = Engine::from_settings(&settings)?;
    let health = Arc::new(Health::default());
    // Alerts queue here while the database is away; the watcher and the
    // HTTP intake wait (backpressure) rather than drop when it is full.
    let (alert_tx, alert_rx) = mpsc::channel(256);
    let watcher = Watcher::new(
        settings.clone(),
        &runbooks,
        engine.clone(),
        store.clone(),
        health.clone(),
        alert_tx.clone(),
    );
    watcher.spawn();
    let gateway = crate::chat::connect(&settings).await?;
    let app = Arc::new(App::new(Parts {
        runbooks,
        store,
        engine,
        watcher,
        health: health.clone(),
        chat: Arc::new(gateway.chat()),
        instance: instance_name(),
        settings,
    }));
    // With interactions over HTTP, the key to verify them is checked now.
    let interactions = gateway.endpoint(&app)?;
    crate::http::spawn(crate::http::State {
        listen: app.settings.http.listen.clone(),
        watcher: app.watcher.clone(),
        store: app.store.clone(),
        health: health.clone(),
        token: app.settings.secrets.alertmanager_token()?.cloned(),
        alerts: alert_tx,
        refusal_audit_every: Duration::from_secs(app.settings.http.refusal_audit_secs.max(1)),
        refusals: Default::default(),
        interactions,
        fleet: app.settings.fleet.enabled.then(|| app.clone()),
    })
    .await
    .map_err(ServeError::Listen)?;
    // Discord first, database in the background: diagnosis must work even
    // while PostgreSQL is down, and the bot keeps trying to reach it.
    let roster = app
        .settings
        .discord
        .roster
        .iter()
        .map(|(role, user)| (role.clone(), *user))
        .collect();
    tokio::spawn(crate::health::supervise_database(
        app.store.clone(),
        health,
        roster,
    ));
    loops::spawn(&app, alert_rx);
    if app.settings.fleet.enabled {
        remotes(&app, app.runbooks.all(), &app.health)?;
    }
    gateway.run(app, shutdown_signal()).await?;
    Ok(())
}

/// Watches the engines of `fleet.remote`, each published as a node of its
/// own. Their watchers read through the stats API (the cgroup files are on
/// another host) and raise no alerts: an alert's follow-up (OOM downtime,
/// actions) needs a bot beside the engine.
fn remotes(app: &Arc<App>, runbooks: &[Runbook], health: &Arc<Health>) -> Result<(), ServeError> {
    for r in &app.settings.fleet.remote {
        let timeout = Duration::from_secs(app.settings.docker.timeout_secs);
        let engine = match r.tls_dir.trim() {
            "" => Engine::new(&r.host, timeout)?,
            dir => Engine::with_tls(&r.host, std::path::Path::new(dir), timeout)?,
        };
        let mut settings = app.settings.clone();
        settings.fleet.node = r.node.clone();
        settings.fleet.remote.clear();
        settings.docker.host = r.host.clone();
        settings.watch.cgroup_root = String::new();
        let (alerts, mut unraised) = mpsc::channel::<crate::core::alerting::AlertEvent>(16);
        let node = r.node.clone();
        tokio::spawn(async move {
            while let Some(a) = unraised.recv().await {
                tracing::info!(node = %node, alert = %a.name, summary = %a.summary, "not raised: no bot runs beside this engine");
            }
        });
        let watcher = Watcher::new(
            settings,
            runbooks,
            engine,
            app.store.clone(),
            health.clone(),
            alerts,
        );
        watcher.spawn();
        tracing::info!(node = %r.node, host = %r.host, "watching a remote engine");
        loops::spawn_remote(app, r.node.clone(), watcher);
    }
    Ok(())
}

/// `host:pid:start` of this process.
fn instance_name() -> String {
    let host = crate::config::hostname();
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
