//! The test harness: [`spawn_app`] brings up what a chat test needs in one
//! call (the project's containers, the Discord emulator, a fresh database
//! and the real bot process on them), and the helpers every test file
//! shares live here, never in another test's file.
//!
//! - `support`: the workload image, labelled containers, the CLI, `docker
//!   stats` as the oracle, test databases;
//! - `bot`: the `serve` process and what it sent;
//! - `approvals`: members and the two-person approval flow;
//! - `commands`: `/mem` subcommands, monitored-database sessions, HTTP;
//! - `docker_cli`: every docker CLI call bounded in time, container
//!   changes bounded in number;
//! - `own_pg`: a PostgreSQL server a test may stop and start;
//! - `engine_proxy`: the real engine behind a slow, counting socket;
//! - `engines`: more real Docker engines on this machine, for the fleet;
//! - `memory_chat`: the application's chat port in memory, for tests that
//!   step the loops in-process.

mod approvals;
mod bot;
mod commands;
mod docker_cli;
mod engine_proxy;
mod engines;
pub mod memory_chat;
mod own_pg;
mod receiver;
mod support;

pub use approvals::*;
pub use bot::*;
pub use commands::*;
pub use docker_cli::{docker, try_docker};
pub use engine_proxy::EngineProxy;
pub use engines::ExtraEngine;
pub use own_pg::OwnPostgres;
pub use receiver::Receiver;
pub use support::*;

use crate::discord::Emulator;

/// A service of the project under test: its name, the MiB its workload
/// holds, and its memory limit in MiB (`None`: unlimited).
pub type Service<'a> = (&'a str, u64, Option<u64>);

/// What [`spawn_app`] brought up; each part cleans up when dropped.
pub struct TestApp {
    /// The Compose-like project the bot watches.
    pub project: Project,
    pub emu: Emulator,
    /// The bot, on a fresh database of its own (`bot.db`).
    pub bot: Bot,
}

/// Brings up project `tag` with `services` (started and resident before the
/// bot starts), the emulator, a fresh database and the bot with the extra
/// settings `env`; returns once the bot's commands are registered and its
/// database is ready.
pub async fn spawn_app(tag: &str, services: &[Service<'_>], env: &[(&str, &str)]) -> TestApp {
    let mut project = Project::new(tag);
    for (service, mb, limit) in services {
        project.start(service, *mb, *limit);
    }
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &project.name, env).await;
    TestApp { project, emu, bot }
}
