//! The pure core: runbook schema and validation, memory arithmetic, verdicts.
//!
//! Values in, values out. Nothing in here performs I/O, reads the clock,
//! awaits, or imports an adapter (serenity, bollard, SQL): callers pass
//! observations and `now` in and act on what comes back. That keeps every
//! rule table-testable.

pub mod access;
pub mod alerting;
pub mod approval;
pub mod causes;
pub mod cgroup;
pub mod commands;
pub mod connections;
pub mod diagnosis;
pub mod downtime;
pub mod escalation;
pub mod forecast;
pub mod incident;
pub mod memory;
pub mod paging;
pub mod profile;
pub mod reverify;
pub mod runbook;
pub mod surface;
pub mod text;
pub mod throttle;
pub mod trend;
pub mod verdict;
pub mod verification;
