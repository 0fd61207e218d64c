//! incident-bot: walks a DevOps team through memory incidents on Docker
//! Compose hosts, driven by runbooks kept as data in `commands/`.
//!
//! Layers, top to bottom (arrows point down only; see ARCHITECTURE.md):
//! - front ends: [`cli`], [`chat`] (the only serenity user), [`http`] (the
//!   only axum user: Alertmanager intake, /metrics, health)
//! - orchestration: [`diagnose`], [`actions`], [`watch`] (the live
//!   watcher), [`verify`], [`causes`]
//! - adapters: [`docker`] (the only bollard user), [`store`] (the bot's own
//!   SQL), [`appdb`] (the monitored application's PostgreSQL), [`runbooks`]
//!   (reads runbook files), [`render`] and [`chart`] (verdicts to text, JSON
//!   and PNG), [`metrics`], [`health`] (what is up right now), [`config`]
//! - the pure [`core`].

pub mod actions;
pub mod appdb;
pub mod causes;
pub mod chart;
pub mod chat;
pub mod cli;
pub mod config;
pub use incident_core as core;
pub mod diagnose;
pub mod docker;
pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod render;
pub mod runbooks;
pub mod store;
pub mod verify;
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
