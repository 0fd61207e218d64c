//! The application layer: the runbook's use cases, whichever front end or
//! timer asks for them.
//!
//! - `diagnose`: a step, the verification checklist, the root-cause
//!   ranking;
//! - `actions` and `approvals`: state changes, only after a second
//!   person's approval, with their execution claims and reconciliation;
//! - `incidents`: the lifecycle, its thread and timeline;
//! - `alerts` and `oom`: alerts into incidents, OOM downtime;
//! - `escalation`: the runbook's escalation rules, the roster;
//! - `updates`: memory updates in open incidents' threads;
//! - `fleet`: this node's heartbeat and samples for the others, blind
//!   spots, the gateway lease;
//! - `loops`: the timers, each one step (`tick(now)`) that tests drive.
//!
//! It speaks to chat only through the [`port::Chat`] trait and hands back
//! typed outcomes; it knows neither serenity nor SQL nor bollard (those
//! are the adapters' own), and it is built once, at start-up, by
//! `startup`.

pub mod actions;
pub mod alerts;
pub mod approvals;
pub mod diagnose;
pub mod escalation;
pub mod fleet;
pub mod followups;
pub mod header;
pub mod incidents;
pub mod lead;
pub mod loops;
pub mod oom;
pub mod pager;
pub mod paging;
pub mod pins;
pub mod port;
pub mod rechecks;
pub mod reverify;
pub mod severity;
pub mod sight;
pub mod silences;
pub mod updates;

use crate::config::{Scope, Settings};
use crate::core::access::Roles;
use crate::core::incident::TimelineEntry;
use crate::core::runbook::{Action, Runbook};
use crate::docker::Engine;
use crate::health::Health;
use crate::store::{AuditEntry, Store};
use crate::watch::Watcher;
use diagnose::Probes;
use port::Chat;
use std::sync::Arc;
use time::OffsetDateTime;

/// Everything a use case needs, built once and shared by every front end
/// and loop.
pub struct App {
    pub settings: Settings,
    /// The watched scope, from the settings.
    pub scope: Scope,
    pub runbooks: Runbooks,
    /// The truth: incidents, approvals, escalations, the audit log.
    pub store: Store,
    /// The one engine connection (its API version negotiated once).
    pub engine: Engine,
    /// The live watcher: `/mem status` answers from it, trends read its
    /// history, verification its OOM events.
    pub watcher: Arc<Watcher>,
    /// What is up right now; loops and commands that must be recorded ask
    /// it first.
    pub health: Arc<Health>,
    /// Where messages go.
    pub chat: Arc<dyn Chat>,
    /// This process, as named in execution claims: host, process id and
    /// start time, so a restarted bot is never mistaken for its
    /// predecessor.
    pub instance: String,
    /// Containers watched for OOM downtime now.
    pub(crate) downtime: oom::Watches,
    /// This process's hold on the fleet's gateway lease (never held
    /// outside a fleet).
    pub lease: fleet::GatewayLease,
}

/// What an [`App`] is made of: built by `startup` (and by tests, with a
/// chat of their own).
pub struct Parts {
    pub settings: Settings,
    pub runbooks: Vec<Runbook>,
    pub store: Store,
    pub engine: Engine,
    pub watcher: Arc<Watcher>,
    pub health: Arc<Health>,
    pub chat: Arc<dyn Chat>,
    pub instance: String,
}

impl App {
    /// The application of `parts`; its loops are not started (see
    /// [`loops::spawn`]).
    pub fn new(parts: Parts) -> App {
        App {
            scope: parts.settings.scope(),
            runbooks: Runbooks::new(parts.runbooks),
            store: parts.store,
            engine: parts.engine,
            watcher: parts.watcher,
            health: parts.health,
            chat: parts.chat,
            instance: parts.instance,
            downtime: Default::default(),
            lease: Default::default(),
            settings: parts.settings,
        }
    }
}

/// Who asked, and where: what a use case needs of a chat interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: u64,
    pub name: String,
    /// The channel (or thread) the command was run in.
    pub channel_id: u64,
    /// The thread's parent channel, when it was run in a thread.
    pub parent_id: Option<u64>,
    /// The member's role ids.
    pub roles: Vec<u64>,
}

impl Caller {
    /// Who did it, readable in chat and in files: `alice (<@9001>)`.
    pub fn label(&self) -> String {
        format!("{} (<@{}>)", self.name, self.user_id)
    }

    /// A mention that shows the person (and, sent with no mentions
    /// allowed, notifies nobody).
    pub fn mention(&self) -> String {
        format!("<@{}>", self.user_id)
    }
}

/// The loaded runbooks (at least one: start-up refuses none) and the
/// lookups use cases make in them.
pub struct Runbooks(Vec<Runbook>);

impl Runbooks {
    /// `runbooks` must not be empty.
    pub fn new(runbooks: Vec<Runbook>) -> Runbooks {
        assert!(!runbooks.is_empty(), "at least one runbook is loaded");
        Runbooks(runbooks)
    }

    pub fn all(&self) -> &[Runbook] {
        &self.0
    }

    pub fn get(&self, id: &str) -> Option<&Runbook> {
        self.0.iter().find(|rb| rb.id() == id)
    }

    /// The runbook `id`, else the first (an incident's runbook may have
    /// been removed since it opened).
    pub fn or_first(&self, id: &str) -> &Runbook {
        self.get(id).unwrap_or(&self.0[0])
    }

    pub fn first(&self) -> &Runbook {
        &self.0[0]
    }

    /// The action `action` of runbook `runbook`, as the file declares it now.
    pub fn action(&self, runbook: &str, action: &str) -> Option<&Action> {
        self.get(runbook)?
            .actions
            .iter()
            .map(|a| a.get_ref())
            .find(|a| a.id == action)
    }

    /// The runbook that declares alert `name`, else the first.
    pub fn for_alert(&self, name: &str) -> &Runbook {
        self.0
            .iter()
            .find(|rb| rb.alerts.iter().any(|a| a.get_ref().name == name))
            .unwrap_or(&self.0[0])
    }

    /// Every roster role any runbook declares, each once, in order.
    pub fn roster_roles(&self) -> Vec<String> {
        let mut roles: Vec<String> = Vec::new();
        for r in self.0.iter().flat_map(|rb| rb.roster_roles.iter()) {
            if !roles.contains(&r.get_ref().id) {
                roles.push(r.get_ref().id.clone());
            }
        }
        roles
    }
}

impl App {
    /// Who may do what, as configured.
    pub fn roles(&self) -> Roles<'_> {
        let d = &self.settings.discord;
        Roles {
            responders: &d.responder_role_ids,
            approvers: &d.approver_role_ids,
        }
    }

    /// The probes a step runs with here: the watched scope, the live
    /// watcher and the monitored database.
    pub fn probes(&self) -> Probes<'_> {
        Probes {
            settings: &self.settings,
            scope: &self.scope,
            engine: &self.engine,
            watcher: Some(&self.watcher),
            app_db: self
                .settings
                .secrets
                .monitored_database_url()
                .ok()
                .flatten(),
            fleet: self.settings.fleet.enabled.then_some(&self.store),
        }
    }

    /// The incident channel (reports, requests without a thread).
    pub fn incident_channel(&self) -> u64 {
        self.settings.discord.incident_channel_id
    }

    /// Writes an audit row. A failure is logged, never shown: what it
    /// records already happened (or was refused) either way.
    pub async fn audit(&self, entry: AuditEntry) {
        if let Err(e) = self.store.audit(&entry).await {
            crate::metrics::global().postgres_error("audit");
            tracing::warn!(action = %entry.action, error = %crate::cause_chain(&e), "audit row not recorded");
        }
    }

    /// An audit row for something the bot did by itself (executing,
    /// expiring, escalating).
    pub async fn audit_bot(
        &self,
        at: OffsetDateTime,
        action: String,
        target: Option<String>,
        result: String,
    ) {
        self.audit(AuditEntry {
            at,
            actor: "incident-bot".into(),
            action,
            target,
            result,
            detail: None,
        })
        .await;
    }

    /// Appends to an incident's timeline; a failure is logged (the thing
    /// it records happened either way).
    pub async fn timeline(&self, incident: i64, entry: &TimelineEntry) {
        if let Err(e) = self.store.append_timeline(incident, entry).await {
            tracing::warn!(incident, kind = %entry.kind, error = %crate::cause_chain(&e), "timeline entry not recorded");
        }
    }
}
