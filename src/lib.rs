//! incident-bot: walks a DevOps team through memory incidents on Docker
//! Compose hosts, driven by runbooks kept as data in `commands/`.
//!
//! Layers, top to bottom (arrows point down only; see ARCHITECTURE.md):
//! - start-up: [`cli`] (the terminal) and [`startup`] (builds the
//!   application once for `serve` and starts everything around it)
//! - front ends: [`chat`] (the only serenity user), [`http`] (the only axum
//!   user: Alertmanager intake, /metrics, health)
//! - the application: [`app`] (the use cases, the loops, the chat port)
//!   and [`watch`] (the live watcher)
//! - adapters: [`docker`] (the only bollard user), [`store`] (the bot's own
//!   SQL), [`appdb`] (the monitored application's PostgreSQL), [`runbooks`]
//!   (reads runbook files), [`render`] and [`chart`] (verdicts to text, JSON,
//!   chat messages and PNG), [`metrics`], [`health`] (what is up right
//!   now), [`logging`], [`config`]
//! - the pure [`core`], a crate of its own.

pub mod app;
pub mod appdb;
pub mod cgroup;
pub mod chart;
pub mod chat;
pub mod cli;
pub mod config;
pub use incident_core as core;
pub mod docker;
pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod render;
pub mod runbooks;
pub mod startup;
pub mod store;
pub mod watch;

/// An error and all its sources, for the log ("a: b: c"). People get the
/// first part only.
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
