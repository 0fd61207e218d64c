//! The integration suite: one binary, real parts. Docker tests talk to the
//! engine on this machine (containers of the FROM-scratch `memhog` image);
//! nothing about Docker is mocked. A missing engine fails the suite, it never
//! skips it. Discord cannot be reached, so `discord` emulates its REST API
//! and gateway; the bot under test is the real binary with the real serenity
//! client.

mod alertmanager;
mod approvals_chat;
mod bench;
mod bench_fleet;
mod bench_paging;
mod causes_chat;
mod connections_chat;
mod discord;
mod discord_bot;
mod escalation_chat;
mod faults;
mod fleet;
mod fleet_remote;
mod fleet_store;
mod followups_chat;
mod forecast_chat;
mod hardening;
mod harness;
mod http_interactions;
mod image;
mod incidents_chat;
mod loops;
mod mem_status;
mod paging_chat;
mod paging_loops;
mod pins_chat;
mod profile_chat;
mod recovery;
mod reverify;
mod runbooks;
mod scale;
mod store;
mod verify_chat;
mod watcher_chat;
mod workers_chat;
