//! The fixed names of the command surface that every runbook shares: the
//! built-in command groups and subcommands a runbook may not take, and
//! Discord's cap on subcommands. Validation (`runbook::validate`) and the
//! spec (`commands`) both read them; this module reads neither.

/// Subcommand names the bot derives itself; runbook ids may not use them.
pub const RESERVED: [&str; 4] = ["causes", "verify", "escalate", "runbook"];

/// The built-in command group for incidents; no runbook may take its name.
pub const INCIDENT_GROUP: &str = "incident";

/// The built-in command group for the on-call roster.
pub const ONCALL_GROUP: &str = "oncall";

/// Discord's cap on subcommands per command, which the spec keeps so
/// registration never fails.
pub const MAX_SUBCOMMANDS: usize = 25;
