//! Interaction handling: registration on READY, slash commands and
//! autocomplete.
//!
//! Order of a slash command, and why: parse and check roles first (cheap, no
//! I/O, and a refusal must run nothing); then acknowledge at once (Discord
//! drops interactions not answered within 3 seconds, and a probe can take
//! longer); then run the step and edit the result in.

use super::input::{member_roles, raw_label, subcommand_options};
use super::reply::{actor, defer, edit, redacted, reply_ephemeral, TAKEN};
use super::{
    alerts, approvals, causes, escalations, incidents, outgoing, register, runbook, steps, updates,
    verify, Shared,
};
use crate::core::access::{may_invoke, Roles};
use crate::core::commands::{self, CommandSpec, Invocation, OptionKind, Target};
use crate::core::diagnosis::can_run;
use crate::core::runbook::Runbook;
use crate::diagnose::running_services;
use crate::store::AuditEntry;
use serenity::all::{
    async_trait, AutocompleteChoice, CommandInteraction, ConnectionStage, Context,
    CreateAutocompleteResponse, CreateInteractionResponse, EventHandler, GuildId, Interaction,
    Ready, ShardStageUpdateEvent,
};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How long a command that must be recorded waits for the database before
/// it is refused: well inside Discord's 3 s acknowledgement deadline.
const DB_WAIT: Duration = Duration::from_millis(2000);

#[derive(Clone)]
pub struct Handler {
    pub(super) shared: Arc<Shared>,
    /// Derived once from the runbooks; the same specs are registered and
    /// used to check every invocation.
    specs: Vec<CommandSpec>,
}

impl Handler {
    pub fn new(shared: Arc<Shared>) -> Handler {
        let mut specs: Vec<CommandSpec> = shared.runbooks.iter().map(commands::spec).collect();
        let ids: Vec<&str> = shared.runbooks.iter().map(|rb| rb.id()).collect();
        specs.push(commands::incident_spec(&ids));
        let mut roles: Vec<String> = Vec::new();
        for rb in &shared.runbooks {
            for r in rb.roster_roles.iter().map(|r| r.get_ref().id.clone()) {
                if !roles.contains(&r) {
                    roles.push(r);
                }
            }
        }
        specs.push(commands::oncall_spec(&roles));
        Handler { shared, specs }
    }

    pub(super) fn runbook(&self, id: &str) -> Option<&Runbook> {
        self.shared.runbooks.iter().find(|rb| rb.id() == id)
    }

    fn roles(&self) -> Roles<'_> {
        let d = &self.shared.settings.discord;
        Roles {
            responders: &d.responder_role_ids,
            approvers: &d.approver_role_ids,
        }
    }

    /// Checks everything that needs no I/O. `Err` is the sentence to show.
    /// Roles come before input: someone who may not run a command learns
    /// nothing from its options (such as which services exist).
    fn admit(&self, c: &CommandInteraction) -> Result<Invocation, String> {
        let spec = self
            .specs
            .iter()
            .find(|s| s.name == c.data.name)
            .ok_or_else(|| format!("/{} is not a command of this bot.", c.data.name))?;
        if c.guild_id.map(GuildId::get) != Some(self.shared.settings.discord.guild_id) {
            return Err("Use this command in the incident team's server.".into());
        }
        let (sub, given) = subcommand_options(&c.data.options())?;
        let target = spec
            .subcommands
            .iter()
            .find(|s| s.name == sub)
            .map(|s| s.target.clone())
            .ok_or_else(|| format!("/{} has no subcommand '{sub}'.", spec.name))?;
        may_invoke(
            self.roles(),
            &member_roles(c),
            &target,
            &format!("/{} {sub}", spec.name),
        )?;
        commands::parse(spec, &sub, &given)
            .map_err(|e| format!("That input was not accepted: {e}."))
    }

    async fn command(&self, ctx: &Context, c: CommandInteraction) {
        let label = raw_label(&c);
        // The audit row carries when the command came in, so the log reads
        // in the order people acted, whatever each command then took.
        let received = OffsetDateTime::now_utc();
        let inv = match self.admit(&c) {
            Ok(inv) => inv,
            Err(sentence) => {
                tracing::info!(user = %c.user.id, command = %label, refusal = %sentence, "refused");
                let result = match reply_ephemeral(ctx, &c, &sentence).await {
                    Err(taken) if taken == TAKEN => taken,
                    _ => format!("refused: {sentence}"),
                };
                return self.audit(&c, received, &label, None, result).await;
            }
        };
        tracing::info!(user = %c.user.id, command = %label, "command");
        // A command arriving while the database is (re)connecting waits for
        // it briefly; Discord's 3 s acknowledgement deadline bounds how long.
        if inv.target.must_be_recorded()
            && !self.shared.db_ready()
            && !self.shared.health.wait_db(DB_WAIT).await
        {
            // Acting unrecorded is worse than not acting: say so instead.
            let sentence = format!(
                "{label} was not run: it must be recorded, and the database at {} is not reachable right now. Diagnosis commands still work.",
                self.shared.store.location()
            );
            // Not audited: the audit log is in that database.
            let _ = reply_ephemeral(ctx, &c, &sentence).await;
            return;
        }
        let (target, result) = match &inv.target {
            Target::Incident(op) => {
                if let Err(result) = defer(ctx, &c, false, &label).await {
                    return self.audit(&c, received, &label, None, result).await;
                }
                let done = incidents::run(self, ctx, &c, &inv, *op).await;
                edit(ctx, &c, done.reply, &label).await;
                (done.target, done.result)
            }
            Target::Escalate | Target::Oncall { .. } => {
                if let Err(result) = defer(ctx, &c, false, &label).await {
                    return self.audit(&c, received, &label, None, result).await;
                }
                let done = match &inv.target {
                    Target::Oncall { set } => escalations::oncall(self, &c, &inv, *set)
                        .await
                        .map(|(reply, result)| (reply, None, result)),
                    _ => escalations::manual(self, &c, &inv).await,
                };
                let (reply, target, result) = done.unwrap_or_else(|e| {
                    (
                        outgoing::reply_text(&format!(
                            "Nothing was recorded: {e}. Diagnosis commands still work."
                        )),
                        None,
                        format!("failed: {e}"),
                    )
                });
                edit(ctx, &c, reply, &label).await;
                (target, result)
            }
            Target::Action(action) => approvals::request(self, ctx, &c, &inv, action, &label).await,
            Target::Verify => verify::run(self, ctx, &c, &inv, &label).await,
            Target::Causes => causes::run(self, ctx, &c, &inv, &label).await,
            Target::Runbook => runbook::show(self, ctx, &c, &inv).await,
            Target::Step(step) if self.runnable(&inv.runbook, step) => {
                steps::run(self, ctx, &c, &inv, step, &label).await
            }
            _ => {
                let sentence = format!(
                    "{label} is not available yet: this version cannot run its check kind as a step. The other /{} commands work.",
                    inv.runbook
                );
                match reply_ephemeral(ctx, &c, &sentence).await {
                    Err(taken) if taken == TAKEN => (None, taken),
                    _ => (None, format!("refused: {sentence}")),
                }
            }
        };
        // "refused: …" → refused; "fail" → fail: a closed set of outcomes.
        let outcome = result.split(':').next().unwrap_or("").to_string();
        let elapsed = (OffsetDateTime::now_utc() - received).unsigned_abs();
        crate::metrics::global().command(&label, &outcome, elapsed);
        self.audit(&c, received, &label, target, result).await;
    }

    /// An audit row for something the bot did by itself (executing,
    /// expiring, escalating).
    pub(super) async fn audit_bot(
        &self,
        at: OffsetDateTime,
        action: String,
        target: Option<String>,
        result: String,
    ) {
        self.record(AuditEntry {
            at,
            actor: "incident-bot".into(),
            action,
            target,
            result,
            detail: None,
        })
        .await;
    }

    /// Writes an audit row. A failure is logged, never shown: what it
    /// records already happened (or was refused) either way.
    pub(super) async fn record(&self, entry: AuditEntry) {
        if let Err(e) = self.shared.store.audit(&entry).await {
            crate::metrics::global().postgres_error("audit");
            tracing::warn!(action = %entry.action, error = %crate::cause_chain(&e), "audit row not recorded");
        }
    }

    fn runnable(&self, runbook: &str, step: &str) -> bool {
        self.runbook(runbook)
            .and_then(|rb| rb.step(step))
            .is_some_and(|s| can_run(&s.check))
    }

    /// Appends a row to the audit log. A failure is logged, never shown:
    /// the user's command already ran (or was refused) either way.
    pub(super) async fn audit(
        &self,
        c: &CommandInteraction,
        at: OffsetDateTime,
        action: &str,
        target: Option<String>,
        result: String,
    ) {
        let entry = AuditEntry {
            at,
            actor: actor(c),
            action: action.to_string(),
            target,
            result,
            detail: Some(serde_json::json!({
                "channel_id": c.channel_id.get().to_string(),
                "interaction_id": c.id.get().to_string(),
            })),
        };
        self.record(entry).await;
    }

    async fn autocomplete(&self, ctx: &Context, c: CommandInteraction) {
        let choices = self.service_choices(&c).await.unwrap_or_default();
        let response = CreateInteractionResponse::Autocomplete(
            CreateAutocompleteResponse::new().set_choices(choices),
        );
        if let Err(e) = c.create_response(&ctx.http, response).await {
            tracing::warn!(error = %redacted(&e, &c), "autocomplete response failed");
        }
    }

    /// Running services of the watched project matching what was typed,
    /// within what the option allows; nothing for non-responders.
    async fn service_choices(&self, c: &CommandInteraction) -> Option<Vec<AutocompleteChoice>> {
        let focused = c.data.autocomplete()?;
        let spec = self.specs.iter().find(|s| s.name == c.data.name)?;
        let (sub, _) = subcommand_options(&c.data.options()).ok()?;
        let option = spec
            .subcommands
            .iter()
            .find(|s| s.name == sub)?
            .options
            .iter()
            .find(|o| o.name == focused.name)?;
        let OptionKind::Service { allowed } = &option.kind else {
            return None;
        };
        may_invoke(self.roles(), &member_roles(c), &Target::Causes, "").ok()?;
        let settings = &self.shared.settings;
        // Autocomplete must answer within 3 seconds too.
        let services = running_services(
            settings,
            &settings.scope(),
            self.shared.docker_host_env.clone(),
            Duration::from_secs(settings.docker.timeout_secs.min(2)),
        )
        .await
        .map_err(|e| tracing::warn!(error = %e, "autocomplete could not list services"))
        .ok()?;
        let typed = focused.value.to_lowercase();
        Some(
            services
                .into_iter()
                .filter(|s| allowed.is_empty() || allowed.contains(s))
                .filter(|s| s.to_lowercase().contains(&typed))
                .take(25)
                .map(|s| AutocompleteChoice::new(s.clone(), s))
                .collect(),
        )
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        // Expiry runs for as long as the bot does: start it on the first
        // READY only (later READYs are reconnections).
        if !self
            .shared
            .expiry_started
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let every =
                Duration::from_secs(self.shared.settings.approvals.expiry_check_secs.max(1));
            tokio::spawn(approvals::expiry_loop(
                Arc::new(self.clone()),
                ctx.http.clone(),
                every,
            ));
            let tick = Duration::from_millis(self.shared.settings.escalation.tick_ms.max(50));
            tokio::spawn(escalations::scheduler(
                Arc::new(self.clone()),
                ctx.http.clone(),
                tick,
            ));
            let alerts = self.shared.alerts.lock().ok().and_then(|mut rx| rx.take());
            if let Some(rx) = alerts {
                tokio::spawn(alerts::alert_loop(
                    Arc::new(self.clone()),
                    ctx.http.clone(),
                    rx,
                ));
            }
            tokio::spawn(updates::update_loop(
                Arc::new(self.clone()),
                ctx.http.clone(),
            ));
        }
        self.shared.health.set_gateway(true);
        let guild = GuildId::new(self.shared.settings.discord.guild_id);
        let commands = self.specs.iter().map(register::command).collect();
        match guild.set_commands(&ctx.http, commands).await {
            Ok(registered) => tracing::info!(
                user = %ready.user.name,
                guild = %guild,
                commands = registered.len(),
                "connected; slash commands registered"
            ),
            Err(e) => {
                tracing::error!(guild = %guild, error = %e, "registering slash commands failed; is the bot in that server with the applications.commands scope?")
            }
        }
    }

    /// Keeps /readyz honest about the gateway: any stage but Connected
    /// (a resume, a re-identify, a lost connection) is "down" until the
    /// session is back.
    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        let up = matches!(event.new, ConnectionStage::Connected);
        if !up {
            tracing::info!(stage = ?event.new, "the gateway session is not connected");
        }
        self.shared.health.set_gateway(up);
    }

    async fn resume(&self, _ctx: Context, _event: serenity::all::ResumedEvent) {
        self.shared.health.set_gateway(true);
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(c) => self.command(&ctx, c).await,
            Interaction::Autocomplete(c) => self.autocomplete(&ctx, c).await,
            Interaction::Component(b) => approvals::click(self, &ctx, b).await,
            _ => {}
        }
    }
}
