//! incident-bot: walks a DevOps team through memory incidents on Docker
//! Compose hosts, driven by runbooks kept as data in `commands/`.
//!
//! Layers, top to bottom (arrows point down only; see ARCHITECTURE.md):
//! - orchestration: [`cli`], [`diagnose`]
//! - adapters: [`docker`] (the only bollard user), [`runbooks`] (reads
//!   runbook files), [`render`] (verdicts to text and JSON), [`config`]
//! - the pure [`core`].

pub mod chart;
pub mod cli;
pub mod config;
pub mod core;
pub mod diagnose;
pub mod docker;
pub mod render;
pub mod runbooks;
