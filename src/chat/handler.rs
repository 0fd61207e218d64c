//! Interaction handling: registration on READY, slash commands and
//! autocomplete.
//!
//! Order of a slash command, and why: parse and check roles first (cheap, no
//! I/O, and a refusal must run nothing); then acknowledge at once (Discord
//! drops interactions not answered within 3 seconds, and a probe can take
//! longer); then run the step and edit the result in.

use super::{
    alerts, approvals, causes, escalations, incidents, register, runbook, steps, verify, Shared,
};
use crate::core::access::{may_invoke, Roles};
use crate::core::commands::{self, CommandSpec, Invocation, OptionKind, Target, Value};
use crate::core::diagnosis::can_run;
use crate::core::runbook::Runbook;
use crate::diagnose::running_services;
use crate::store::AuditEntry;
use serenity::all::{
    async_trait, AutocompleteChoice, CommandInteraction, Context, CreateAutocompleteResponse,
    CreateInteractionResponse, CreateInteractionResponseMessage, EditInteractionResponse,
    EventHandler, GuildId, Interaction, Ready, ResolvedOption, ResolvedValue,
};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

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
                reply_ephemeral(ctx, &c, &sentence).await;
                return self
                    .audit(&c, received, &label, None, format!("refused: {sentence}"))
                    .await;
            }
        };
        tracing::info!(user = %c.user.id, command = %label, "command");
        if inv.target.must_be_recorded() && !self.shared.db_ready() {
            // Acting unrecorded is worse than not acting: say so instead.
            let sentence = format!(
                "{label} was not run: it must be recorded, and the database at {} is not reachable yet. Diagnosis commands still work.",
                self.shared.store.location()
            );
            return reply_ephemeral(ctx, &c, &sentence).await;
        }
        let (target, result) = match &inv.target {
            Target::Incident(op) => {
                if !defer(ctx, &c, false, &label).await {
                    return;
                }
                let done = incidents::run(self, ctx, &c, &inv, *op).await;
                edit(ctx, &c, done.reply, &label).await;
                (done.target, done.result)
            }
            Target::Escalate | Target::Oncall { .. } => {
                if !defer(ctx, &c, false, &label).await {
                    return;
                }
                let done = match &inv.target {
                    Target::Oncall { set } => escalations::oncall(self, &c, &inv, *set)
                        .await
                        .map(|(reply, result)| (reply, None, result)),
                    _ => escalations::manual(self, &c, &inv).await,
                };
                let (reply, target, result) = done.unwrap_or_else(|e| {
                    (
                        EditInteractionResponse::new().content(format!(
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
                reply_ephemeral(ctx, &c, &sentence).await;
                (None, format!("refused: {sentence}"))
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
            tokio::spawn(alerts::update_loop(
                Arc::new(self.clone()),
                ctx.http.clone(),
            ));
        }
        self.shared
            .gateway_ready
            .store(true, std::sync::atomic::Ordering::Release);
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

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(c) => self.command(&ctx, c).await,
            Interaction::Autocomplete(c) => self.autocomplete(&ctx, c).await,
            Interaction::Component(b) => approvals::click(self, &ctx, b).await,
            _ => {}
        }
    }
}

/// The subcommand's name and its options as core values.
fn subcommand_options(
    options: &[ResolvedOption<'_>],
) -> Result<(String, Vec<(String, Value)>), String> {
    let Some(ResolvedOption {
        name,
        value: ResolvedValue::SubCommand(inner),
        ..
    }) = options.first()
    else {
        return Err("That command needs a subcommand.".into());
    };
    let mut given = Vec::new();
    for o in inner {
        let value = match &o.value {
            ResolvedValue::String(s) => Value::Text(s.to_string()),
            ResolvedValue::Autocomplete { value, .. } => Value::Text(value.to_string()),
            ResolvedValue::Integer(n) => Value::Integer(*n),
            ResolvedValue::User(user, _) => Value::User(user.id.get()),
            _ => {
                return Err(format!(
                    "Option {} has a type this bot does not take.",
                    o.name
                ))
            }
        };
        given.push((o.name.to_string(), value));
    }
    Ok((name.to_string(), given))
}

/// The member's role IDs (none outside a server).
fn member_roles(c: &CommandInteraction) -> Vec<u64> {
    c.member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default()
}

/// A Discord API error for the log, without the interaction token that
/// request URLs carry.
pub(super) fn redacted(e: &serenity::Error, c: &CommandInteraction) -> String {
    e.to_string().replace(&c.token, "[token]")
}

/// Who did it, readable in Discord and in files: `alice (<@9001>)`.
pub(super) fn actor(c: &CommandInteraction) -> String {
    format!("{} (<@{}>)", c.user.name, c.user.id)
}

/// `/mem status` as the user typed it, even when it did not parse.
fn raw_label(c: &CommandInteraction) -> String {
    match c.data.options.first() {
        Some(sub) => format!("/{} {}", c.data.name, sub.name),
        None => format!("/{}", c.data.name),
    }
}

/// Acknowledges within Discord's deadline; false if even that failed.
pub(super) async fn defer(
    ctx: &Context,
    c: &CommandInteraction,
    ephemeral: bool,
    label: &str,
) -> bool {
    let defer = CreateInteractionResponse::Defer(
        CreateInteractionResponseMessage::new().ephemeral(ephemeral),
    );
    match c.create_response(&ctx.http, defer).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(command = %label, error = %redacted(&e, c), "could not acknowledge the interaction");
            false
        }
    }
}

/// Edits the deferred reply; returns the message when it worked.
pub(super) async fn edit(
    ctx: &Context,
    c: &CommandInteraction,
    reply: EditInteractionResponse,
    label: &str,
) -> Option<serenity::all::Message> {
    match c.edit_response(&ctx.http, reply).await {
        Ok(msg) => Some(msg),
        Err(e) => {
            tracing::error!(command = %label, error = %redacted(&e, c), "could not edit the response");
            None
        }
    }
}

pub(super) async fn reply_ephemeral(ctx: &Context, c: &CommandInteraction, sentence: &str) {
    let msg = CreateInteractionResponseMessage::new()
        .content(sentence)
        .ephemeral(true);
    if let Err(e) = c
        .create_response(&ctx.http, CreateInteractionResponse::Message(msg))
        .await
    {
        tracing::error!(error = %redacted(&e, c), "could not send an ephemeral reply");
    }
}
