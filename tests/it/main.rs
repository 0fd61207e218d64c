//! The integration suite: one binary, real parts. Docker tests talk to the
//! engine on this machine (containers of the FROM-scratch `memhog` image);
//! nothing about Docker is mocked. A missing engine fails the suite, it never
//! skips it. Discord cannot be reached, so `discord` emulates its REST API
//! and gateway; the bot under test is the real binary with the real serenity
//! client.

mod alertmanager;
pub mod approvals_chat;
mod bench;
mod bot;
mod causes_chat;
pub mod connections_chat;
mod discord;
mod discord_bot;
mod discord_emulator;
pub mod escalation_chat;
mod faults;
mod hardening;
mod incidents_chat;
mod mem_status;
mod pg;
mod profile_chat;
mod recovery;
mod runbooks;
mod store;
mod support;
mod verify_chat;
pub mod watcher_chat;
mod workers_chat;
