//! The command surface a runbook defines, and parsing user input against it.
//!
//! [`spec`] derives, from runbook data alone, one command group per runbook
//! with a subcommand per diagnosis step and per action, plus `causes`,
//! `verify` and `escalate` when the runbook has those sections; each with
//! typed options. The chat front end registers exactly this as slash
//! commands, so a new runbook file needs no Rust change. [`parse`] checks an
//! invocation against the spec (types, ranges, required options) before
//! anything runs: bad input becomes one sentence, never an action.

use super::runbook::{ActionEffect, Check, Runbook};
use std::collections::BTreeMap;

pub use super::surface::{INCIDENT_GROUP, MAX_SUBCOMMANDS, ONCALL_GROUP, RESERVED};

/// Longest incident title (it also names the incident's thread, and Discord
/// caps thread names at 100 characters).
pub const MAX_TITLE: u16 = 80;

/// Discord's cap on a command's or option's description.
pub const MAX_DESCRIPTION: usize = 100;
/// Longest free-text reason accepted (kept short: it is shown in chat and
/// stored, and never executed).
pub const MAX_REASON: u16 = 300;

/// One command group (`/mem`).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    pub name: String,
    pub description: String,
    pub subcommands: Vec<SubcommandSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubcommandSpec {
    pub name: String,
    pub description: String,
    pub target: Target,
    pub options: Vec<OptionSpec>,
}

/// What a subcommand does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Run the diagnosis step with this id.
    Step(String),
    /// Request the action with this id (approval-gated).
    Action(String),
    /// The root-cause table with live evidence.
    Causes,
    /// The verification checklist.
    Verify,
    /// Escalate by hand.
    Escalate,
    /// Show the runbook itself, each step with its command.
    Runbook,
    /// An `/incident` subcommand.
    Incident(IncidentOp),
    /// `/oncall` (show) or `/oncall set`.
    Oncall { set: bool },
    /// `/<runbook> silence|silences|unsilence`.
    Silence(SilenceOp),
}

/// The silence subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceOp {
    /// Silence a service (or all) for a while.
    Add,
    /// The silences in force.
    List,
    /// End one early.
    End,
}

/// The `/incident` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentOp {
    Open,
    Ack,
    Resolve,
    Status,
    List,
    Postmortem,
    /// Change the incident's severity.
    Severity,
    /// Name who leads the incident.
    Lead,
    /// `followup add`: a follow-up of the incident.
    FollowupAdd,
    /// `followup done`: one is done.
    FollowupDone,
    /// `followup list`: the incident's follow-ups.
    FollowupList,
    /// `followups`: the open follow-ups of every incident.
    Followups,
}

impl Target {
    /// Targets that change recorded state: refused, not run unrecorded,
    /// while the database is unreachable.
    pub fn must_be_recorded(&self) -> bool {
        match self {
            Target::Step(_) | Target::Causes | Target::Verify | Target::Runbook => false,
            Target::Action(_) | Target::Escalate => true,
            Target::Incident(op) => !matches!(
                op,
                IncidentOp::Status
                    | IncidentOp::List
                    | IncidentOp::FollowupList
                    | IncidentOp::Followups
            ),
            Target::Oncall { set } => *set,
            Target::Silence(op) => *op != SilenceOp::List,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptionSpec {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub kind: OptionKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OptionKind {
    /// A Compose service of the watched project, offered by autocomplete;
    /// `allowed` (when not empty) is the only set accepted.
    Service { allowed: Vec<String> },
    /// Free text up to `max_len` characters; only ever shown and stored.
    Text { max_len: u16 },
    /// A whole number within bounds.
    Integer { min: i64, max: i64 },
    /// One of a fixed set of words.
    Choice { values: Vec<String> },
    /// A member of the server.
    User,
    /// A host of the fleet (its node's name), offered by autocomplete.
    Host,
}

/// A typed option value as received.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Integer(i64),
    /// A Discord user id.
    User(u64),
}

/// A checked invocation: the target and its typed arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub runbook: String,
    pub subcommand: String,
    pub target: Target,
    pub args: BTreeMap<String, Value>,
}

/// The command group of a runbook. In a fleet (`fleet`), the memory
/// report takes a `host` to narrow it to one host.
pub fn spec(rb: &Runbook, fleet: bool) -> CommandSpec {
    let mut subcommands = Vec::new();
    for step in rb.steps.iter().map(|s| s.get_ref()) {
        let mut options = step_options(&step.check);
        if fleet && matches!(step.check, Check::ContainerMemory(_)) {
            options.push(host_option(
                "Only this host of the fleet (default: every host)",
            ));
        }
        subcommands.push(SubcommandSpec {
            name: step.id.clone(),
            description: clip(&step.title),
            target: Target::Step(step.id.clone()),
            options,
        });
    }
    for action in rb.actions.iter().map(|a| a.get_ref()) {
        let mut options = action_options(&action.effect);
        // Container actions run where the container is: in a fleet the
        // request may name the host (needed when the service runs on
        // several).
        if fleet && !matches!(action.effect, ActionEffect::CloseIdleConnections { .. }) {
            options.push(host_option(
                "The host whose container this is (default: where it runs)",
            ));
        }
        options.push(reason("Why (shown to approvers and kept in the audit log)"));
        subcommands.push(SubcommandSpec {
            name: action.id.clone(),
            description: clip(&format!("{} (needs approval)", action.title)),
            target: Target::Action(action.id.clone()),
            options,
        });
    }
    if !rb.causes.is_empty() {
        subcommands.push(SubcommandSpec {
            name: "causes".into(),
            description: "Root causes ranked by live evidence".into(),
            target: Target::Causes,
            options: vec![],
        });
    }
    if !rb.verification.is_empty() {
        subcommands.push(SubcommandSpec {
            name: "verify".into(),
            description: "Check the verification checklist live".into(),
            target: Target::Verify,
            options: vec![],
        });
    }
    if !rb.escalations.is_empty() {
        subcommands.push(SubcommandSpec {
            name: "escalate".into(),
            description: "Escalate to the next level by hand".into(),
            target: Target::Escalate,
            options: vec![reason("Why escalate now")],
        });
    }
    if let Some(paging) = &rb.paging {
        subcommands.extend(silence_subcommands(paging));
    }
    subcommands.push(SubcommandSpec {
        name: "runbook".into(),
        description: clip(&format!(
            "Show the {} runbook, each step with its command",
            rb.runbook.title
        )),
        target: Target::Runbook,
        options: vec![],
    });
    for sub in &mut subcommands {
        // Discord requires required options before optional ones.
        sub.options.sort_by_key(|o| !o.required);
    }
    CommandSpec {
        name: rb.id().to_string(),
        description: clip(&rb.runbook.title),
        subcommands,
    }
}

/// Discord rejects descriptions over 100 characters.
fn clip(s: &str) -> String {
    super::text::clip(s, MAX_DESCRIPTION)
}

/// Checks an invocation of `/<spec.name> <subcommand>` with the given
/// options. The error is one sentence for the user.
pub fn parse(
    spec: &CommandSpec,
    subcommand: &str,
    given: &[(String, Value)],
) -> Result<Invocation, String> {
    let sub = spec
        .subcommands
        .iter()
        .find(|s| s.name == subcommand)
        .ok_or_else(|| format!("/{} has no subcommand '{subcommand}'", spec.name))?;
    let mut args = BTreeMap::new();
    for (name, value) in given {
        let opt = sub
            .options
            .iter()
            .find(|o| &o.name == name)
            .ok_or_else(|| format!("/{} {} has no option '{name}'", spec.name, sub.name))?;
        let checked = check_value(name, &opt.kind, value)?;
        if args.insert(name.clone(), checked).is_some() {
            return Err(format!("{name} was given twice"));
        }
    }
    if let Some(missing) = sub
        .options
        .iter()
        .find(|o| o.required && !args.contains_key(&o.name))
    {
        return Err(format!("{} is required", missing.name));
    }
    Ok(Invocation {
        runbook: spec.name.clone(),
        subcommand: sub.name.clone(),
        target: sub.target.clone(),
        args,
    })
}

/// One option's value checked against its kind; the error is the sentence.
fn check_value(name: &str, kind: &OptionKind, value: &Value) -> Result<Value, String> {
    match (kind, value) {
        (OptionKind::Service { allowed }, Value::Text(s)) => {
            let s = s.trim();
            if !is_service_name(s) {
                return Err(format!(
                    "'{}' is not a service name",
                    super::text::clip(s, 100)
                ));
            }
            if !allowed.is_empty() && !allowed.iter().any(|a| a == s) {
                return Err(format!(
                    "'{s}' is not one of the services this runbook allows here: {}",
                    allowed.join(", ")
                ));
            }
            Ok(Value::Text(s.to_string()))
        }
        (OptionKind::Host, Value::Text(s)) => {
            let s = s.trim();
            if !is_node_name(s) {
                return Err(format!(
                    "'{}' is not a host name",
                    super::text::clip(s, 100)
                ));
            }
            Ok(Value::Text(s.to_string()))
        }
        (OptionKind::Text { max_len }, Value::Text(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Err(format!("{name} must not be empty"));
            }
            if s.chars().count() > usize::from(*max_len) {
                return Err(format!("{name} is longer than {max_len} characters"));
            }
            if let Some(c) = super::text::control_char(s) {
                return Err(format!(
                    "{name} contains a control character ({})",
                    c.escape_unicode()
                ));
            }
            Ok(Value::Text(s.to_string()))
        }
        (OptionKind::Choice { values }, Value::Text(s)) => {
            if !values.iter().any(|v| v == s) {
                return Err(format!("{name} must be one of: {}", values.join(", ")));
            }
            Ok(Value::Text(s.clone()))
        }
        (OptionKind::User, Value::User(id)) => Ok(Value::User(*id)),
        (OptionKind::Integer { min, max }, Value::Integer(n)) => {
            if n < min || n > max {
                return Err(format!("{name} must be between {min} and {max}, not {n}"));
            }
            Ok(Value::Integer(*n))
        }
        _ => Err(format!("{name} has the wrong type")),
    }
}

/// Compose service names: letters, digits, `-`, `_`, `.`; never a path or
/// anything a shell would interpret.
pub fn is_service_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A fleet node's name as config and commands take it: a host name's
/// characters (letters, digits, `-`, `_`, `.`), at most 64.
pub fn is_node_name(s: &str) -> bool {
    s.len() <= 64 && is_service_name(s)
}

mod builtin;
mod followups;
mod options;
pub use builtin::{incident_spec, oncall_spec};
pub use followups::MAX_FOLLOWUP;
use options::{action_options, host_option, reason, silence_subcommands, step_options};

#[cfg(test)]
mod tests;
