//! The Discord front end: the only module that knows serenity.
//!
//! `serve` connects to the gateway, registers one slash-command group per
//! runbook (from `core::commands::spec`, so runbooks need no Rust change) in
//! the configured guild, and answers interactions: it checks input and roles
//! first, acknowledges within Discord's 3-second deadline, runs the step
//! through `diagnose`, and posts the report into the incident channel.
//! It never runs anything a user typed; options are typed and checked.

mod embed;
mod handler;
mod register;

use crate::config::{DiscordEnv, Settings};
use crate::core::runbook::Runbook;
use serenity::all::{ClientBuilder, GatewayIntents, HttpBuilder};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the Discord client stopped: {0}")]
    Client(#[from] serenity::Error),
}

/// Everything a handler needs, shared by all interactions.
pub(crate) struct Shared {
    pub settings: Settings,
    pub runbooks: Vec<Runbook>,
    /// DOCKER_HOST as the process saw it at start-up.
    pub docker_host_env: Option<String>,
}

/// Runs the bot until the gateway connection ends for good or the process
/// is asked to stop (SIGINT/SIGTERM), then closes the gateway cleanly.
pub async fn serve(
    settings: Settings,
    runbooks: Vec<Runbook>,
    env: DiscordEnv,
    docker_host_env: Option<String>,
) -> Result<(), ServeError> {
    let mut http = HttpBuilder::new(env.token.expose());
    if let Some(base) = &env.api_base {
        // serenity's ratelimiter talks to discord.com directly and ignores
        // the proxy, so a proxy only takes effect with it off.
        http = http.proxy(base.clone()).ratelimiter_disabled(true);
        tracing::info!(api_base = %base, "using a Discord-compatible API base");
    }
    let shared = Arc::new(Shared {
        settings,
        runbooks,
        docker_host_env,
    });
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
