//! Whole-file rules a schema cannot express: names usable as Discord
//! subcommands, unique ids, references that resolve, thresholds in range.
//! Returns every problem with the byte offset of the entry it concerns, so a
//! runbook author fixes them all in one pass.

use super::{ResolutionItem, Runbook};
use crate::surface::{INCIDENT_GROUP, MAX_SUBCOMMANDS, ONCALL_GROUP, RESERVED};
use std::collections::HashSet;

/// Every problem of a parsed runbook, as (byte offset, message).
pub(super) fn validate(rb: &Runbook) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for section in [meta, subcommands, causes, verification, escalations, alerts] {
        section(rb, &mut out);
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// The runbook's own id and numbers.
fn meta(rb: &Runbook, out: &mut Vec<(usize, String)>) {
    if let Err(e) = check_name(&rb.runbook.id) {
        out.push((0, format!("runbook id '{}' {e}", rb.runbook.id)));
    }
    if rb.runbook.id == INCIDENT_GROUP
        || rb.runbook.id == ONCALL_GROUP
        || CLI_COMMANDS.contains(&rb.runbook.id.as_str())
    {
        out.push((
            0,
            format!(
                "runbook id '{}' is taken by a built-in command",
                rb.runbook.id
            ),
        ));
    }
    if rb.runbook.estimated_ttr_minutes == 0 {
        out.push((0, "estimated_ttr_minutes must be at least 1".into()));
    }
    if rb.steps.is_empty() {
        out.push((0, "a runbook needs at least one [[steps]] entry".into()));
    }
}

/// Steps and actions: usable, unique subcommand names, sane thresholds
/// and effects.
fn subcommands(rb: &Runbook, out: &mut Vec<(usize, String)>) {
    // Steps and actions share one namespace: both become subcommands.
    let mut subcommands = HashSet::new();
    for s in &rb.steps {
        let (at, step) = (s.span().start, s.get_ref());
        let what = format!("step '{}'", step.id);
        if let Err(e) = check_name(&step.id) {
            out.push((at, format!("{what}: id {e}")));
        }
        if !subcommands.insert(step.id.as_str()) {
            out.push((at, format!("{what}: duplicate id")));
        }
        if RESERVED.contains(&step.id.as_str()) {
            out.push((
                at,
                format!("{what}: '{}' is a built-in subcommand", step.id),
            ));
        }
        for p in step.check.threshold_problems() {
            out.push((at, format!("{what}: {p}")));
        }
    }
    for a in &rb.actions {
        let (at, action) = (a.span().start, a.get_ref());
        let what = format!("action '{}'", action.id);
        if let Err(e) = check_name(&action.id) {
            out.push((at, format!("{what}: id {e}")));
        }
        if !subcommands.insert(action.id.as_str()) {
            out.push((
                at,
                format!("{what}: id already used by a step or another action"),
            ));
        }
        if RESERVED.contains(&action.id.as_str()) {
            out.push((
                at,
                format!("{what}: '{}' is a built-in subcommand", action.id),
            ));
        }
        if action.approvals == 0 {
            out.push((
                at,
                format!("{what}: approvals must be at least 1 (two-person rule)"),
            ));
        }
        if action.expires_minutes == 0 {
            out.push((at, format!("{what}: expires_minutes must be at least 1")));
        }
        for p in action.effect.problems() {
            out.push((at, format!("{what}: {p}")));
        }
    }

    // Discord caps a command group at 25 subcommands; the bot adds up to
    // three of its own (causes, verify, escalate).
    let total = rb.steps.len() + rb.actions.len() + RESERVED.len();
    if total > MAX_SUBCOMMANDS {
        out.push((
            0,
            format!(
                "{} steps and {} actions make more than {MAX_SUBCOMMANDS} subcommands with the built-in ones; split the runbook",
                rb.steps.len(),
                rb.actions.len()
            ),
        ));
    }
}

/// Causes and resolutions: unique ids, references that resolve.
fn causes(rb: &Runbook, out: &mut Vec<(usize, String)>) {
    let resolution_ids = unique(
        out,
        "resolution",
        rb.resolutions
            .iter()
            .map(|r| (r.span().start, r.get_ref().id.as_str())),
    );
    let action_ids: HashSet<&str> = rb.actions.iter().map(|a| a.get_ref().id.as_str()).collect();
    let step_ids: HashSet<&str> = rb.steps.iter().map(|s| s.get_ref().id.as_str()).collect();

    unique(
        out,
        "cause",
        rb.causes
            .iter()
            .map(|c| (c.span().start, c.get_ref().id.as_str())),
    );
    for c in &rb.causes {
        let cause = c.get_ref();
        if !resolution_ids.contains(cause.resolution.as_str()) {
            out.push((
                c.span().start,
                format!(
                    "cause '{}': resolution '{}' is not a [[resolutions]] id",
                    cause.id, cause.resolution
                ),
            ));
        }
    }

    for r in &rb.resolutions {
        let res = r.get_ref();
        if res.items.is_empty() {
            out.push((
                r.span().start,
                format!("resolution '{}': needs at least one item", res.id),
            ));
        }
        for item in &res.items {
            let dangling = match item {
                ResolutionItem::Action { action, .. } if !action_ids.contains(action.as_str()) => {
                    Some(format!("action '{action}' is not an [[actions]] id"))
                }
                ResolutionItem::Verify { step, .. } if !step_ids.contains(step.as_str()) => {
                    Some(format!("step '{step}' is not a [[steps]] id"))
                }
                _ => None,
            };
            if let Some(d) = dangling {
                out.push((r.span().start, format!("resolution '{}': {d}", res.id)));
            }
        }
    }
}

/// The verification checklist.
fn verification(rb: &Runbook, out: &mut Vec<(usize, String)>) {
    unique(
        out,
        "verification item",
        rb.verification
            .iter()
            .map(|v| (v.span().start, v.get_ref().id.as_str())),
    );
    for v in &rb.verification {
        for p in v.get_ref().check.threshold_problems() {
            out.push((
                v.span().start,
                format!("verification item '{}': {p}", v.get_ref().id),
            ));
        }
    }
}

/// Roster roles and the escalations that target them.
fn escalations(rb: &Runbook, out: &mut Vec<(usize, String)>) {
    let roles = unique(
        out,
        "roster role",
        rb.roster_roles
            .iter()
            .map(|r| (r.span().start, r.get_ref().id.as_str())),
    );
    unique(
        out,
        "escalation",
        rb.escalations
            .iter()
            .map(|e| (e.span().start, e.get_ref().id.as_str())),
    );
    for e in &rb.escalations {
        let esc = e.get_ref();
        if !roles.contains(esc.target.as_str()) {
            out.push((
                e.span().start,
                format!(
                    "escalation '{}': target '{}' is not a [[roster_roles]] id",
                    esc.id, esc.target
                ),
            ));
        }
    }
}

/// Alerts, and the detection section's references to them.
fn alerts(rb: &Runbook, out: &mut Vec<(usize, String)>) {
    let alert_names = unique(
        out,
        "alert",
        rb.alerts
            .iter()
            .map(|a| (a.span().start, a.get_ref().name.as_str())),
    );
    for a in &rb.alerts {
        for p in a.get_ref().condition.problems() {
            out.push((a.span().start, format!("alert '{}': {p}", a.get_ref().name)));
        }
    }
    for name in &rb.detection.alerts {
        if !alert_names.contains(name.as_str()) {
            out.push((
                0,
                format!("detection alert '{name}' is not an [[alerts]] name"),
            ));
        }
    }
}

/// Records duplicates among `(offset, id)` pairs; returns the set of ids.
fn unique<'a>(
    out: &mut Vec<(usize, String)>,
    what: &str,
    ids: impl Iterator<Item = (usize, &'a str)>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for (at, id) in ids {
        if id.trim().is_empty() {
            out.push((at, format!("{what}: empty id")));
        } else if !seen.insert(id) {
            out.push((at, format!("{what} '{id}': duplicate id")));
        }
    }
    seen
}

/// The terminal's own commands, which a runbook group would shadow.
const CLI_COMMANDS: [&str; 6] = ["serve", "runbook", "migrate", "audit", "health", "help"];

pub(super) fn is_command_name(name: &str) -> bool {
    check_name(name).is_ok()
}

/// Discord's rule for command and option names, kept for terminal commands
/// too so one runbook works in both: 1-32 characters of lowercase letters,
/// digits, `-` and `_`.
fn check_name(name: &str) -> Result<(), &'static str> {
    let ok_len = (1..=32).contains(&name.chars().count());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err("must be 1-32 characters of lowercase letters, digits, '-' or '_'")
    }
}
