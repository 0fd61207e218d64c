//! One module per command group: each runs its use case and renders the
//! typed outcome into a [`Done`]: the reply, what the audit log records,
//! and the timeline entry it adds. The pipeline (`pipeline.rs`) does the
//! rest the same way for every command.

mod action;
mod causes;
mod escalation;
mod followup;
mod incident;
mod runbook;
mod silence;
mod step;
mod verify;

use crate::app::{App, Caller};
use crate::core::commands::{self, CommandSpec, Invocation, Target};
use crate::core::diagnosis::can_run;
use crate::core::incident::TimelineEntry;
use crate::render::Message;
use std::fmt;

/// What a command came to.
pub(super) struct Done {
    pub reply: Message,
    /// Said instead when `reply` cannot be shown (never leave the person
    /// with "thinking…").
    pub fallback: Option<Message>,
    /// What it was about, for the audit log ("incident #3", "service web").
    pub target: Option<String>,
    pub result: Outcome,
    /// Added to this incident's timeline once the reply is shown (the link
    /// to the reply filled in when the entry has none).
    pub timeline: Option<(i64, TimelineEntry)>,
}

impl Done {
    pub fn new(reply: Message, target: Option<String>, result: Outcome) -> Done {
        Done {
            reply,
            fallback: None,
            target,
            result,
            timeline: None,
        }
    }

    /// A refusal: the sentence is the reply.
    pub fn refused(sentence: String, target: Option<String>) -> Done {
        Done::new(
            Message::text(sentence.clone()),
            target,
            Outcome::Refused(sentence),
        )
    }
}

/// The closed set of a command's results, as the audit log and the
/// metrics record them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Done; the word says what ("ok", "requested", "resolved", …).
    Ok(String),
    /// A diagnosis, judged.
    Judged(crate::core::diagnosis::Outcome),
    Refused(String),
    Failed(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(word) => f.write_str(word),
            Outcome::Judged(o) => f.write_str(&o.label().to_lowercase()),
            Outcome::Refused(s) => write!(f, "refused: {s}"),
            Outcome::Failed(s) => write!(f, "failed: {s}"),
        }
    }
}

/// How a command is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// Acknowledged at once (Discord's 3 s), then the reply edited in;
    /// private when `private`.
    Deferred { private: bool },
    /// Answered directly (it needs no I/O).
    Direct,
}

/// The command groups: one per runbook, plus `/incident` and `/oncall`.
/// Derived once; the same specs are registered and used to check every
/// invocation.
pub(super) fn specs(app: &App) -> Vec<CommandSpec> {
    let runbooks = app.runbooks.all();
    let fleet = app.settings.fleet.enabled;
    let mut specs: Vec<CommandSpec> = runbooks
        .iter()
        .map(|rb| commands::spec(rb, fleet))
        .collect();
    let ids: Vec<&str> = runbooks.iter().map(|rb| rb.id()).collect();
    let severities: Vec<String> = runbooks
        .iter()
        .flat_map(|rb| rb.severities.iter().map(|s| s.get_ref().id.clone()))
        .fold(Vec::new(), |mut all, id| {
            if !all.contains(&id) {
                all.push(id);
            }
            all
        });
    let prevention: Vec<String> = runbooks
        .iter()
        .filter(|rb| rb.followups.is_some())
        .flat_map(|rb| rb.runbook.prevention.iter().cloned())
        .fold(Vec::new(), |mut all, p| {
            if !all.contains(&p) {
                all.push(p);
            }
            all
        });
    specs.push(commands::incident_spec(&ids, &severities, &prevention));
    specs.push(commands::oncall_spec(&app.runbooks.roster_roles()));
    specs
}

/// Whether this version can run `inv`'s step (every check kind of the
/// runbook's steps, today).
fn runnable(app: &App, inv: &Invocation, step: &str) -> bool {
    app.runbooks
        .get(&inv.runbook)
        .and_then(|rb| rb.step(step))
        .is_some_and(|s| can_run(&s.check))
}

/// How `inv` is answered. Diagnosis outside the incident channel and
/// action requests reply privately (the report or the request itself is
/// posted for everyone).
pub(super) fn reply_mode(app: &App, caller: &Caller, inv: &Invocation) -> Reply {
    match &inv.target {
        Target::Runbook => Reply::Direct,
        Target::Step(step) if !runnable(app, inv, step) => Reply::Direct,
        Target::Step(_) => Reply::Deferred {
            private: !step::in_incident_channel(app, caller),
        },
        Target::Action(_) => Reply::Deferred { private: true },
        _ => Reply::Deferred { private: false },
    }
}

/// Runs `inv` for `caller`.
pub(super) async fn run(app: &App, caller: &Caller, inv: &Invocation, label: &str) -> Done {
    match &inv.target {
        Target::Incident(op) => incident::run(app, caller, inv, *op).await,
        Target::Escalate => escalation::manual(app, caller, inv).await,
        Target::Oncall { set } => escalation::oncall(app, caller, inv, *set).await,
        Target::Silence(op) => silence::run(app, caller, inv, *op).await,
        Target::Action(action) => action::request(app, caller, inv, action).await,
        Target::Verify => verify::run(app, caller, inv, label).await,
        Target::Causes => causes::run(app, inv).await,
        Target::Runbook => runbook::show(app, inv),
        Target::Step(step) if runnable(app, inv, step) => {
            step::run(app, caller, inv, step, label).await
        }
        Target::Step(_) => {
            let sentence = format!(
                "{label} is not available yet: this version cannot run its check kind as a step. The other /{} commands work.",
                inv.runbook
            );
            Done::refused(sentence, None).private()
        }
    }
}

impl Done {
    /// Shown only to the person who asked.
    pub fn private(mut self) -> Done {
        self.reply = self.reply.private();
        self
    }
}

/// A text option of `inv` (empty when absent).
fn text(inv: &Invocation, name: &str) -> String {
    match inv.args.get(name) {
        Some(commands::Value::Text(s)) => s.clone(),
        _ => String::new(),
    }
}
