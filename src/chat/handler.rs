//! Interaction handling: registration on READY, slash commands and
//! autocomplete.
//!
//! Order of a slash command, and why: parse and check roles first (cheap, no
//! I/O, and a refusal must run nothing); then acknowledge at once (Discord
//! drops interactions not answered within 3 seconds, and a probe can take
//! longer); then run the step and edit the result in.

use super::{embed, register, Shared};
use crate::core::access::{may_invoke, Roles};
use crate::core::commands::{self, CommandSpec, Invocation, OptionKind, Target, Value};
use crate::core::runbook::{Check, Runbook};
use crate::diagnose::{run_step, running_services};
use serenity::all::{
    async_trait, AutocompleteChoice, ChannelId, CommandInteraction, Context, CreateAllowedMentions,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage,
    CreateMessage, EditInteractionResponse, EventHandler, GuildId, Interaction, Ready,
    ResolvedOption, ResolvedValue,
};
use std::sync::Arc;
use std::time::Duration;

pub struct Handler {
    shared: Arc<Shared>,
    /// Derived once from the runbooks; the same specs are registered and
    /// used to check every invocation.
    specs: Vec<CommandSpec>,
}

impl Handler {
    pub fn new(shared: Arc<Shared>) -> Handler {
        let specs = shared.runbooks.iter().map(commands::spec).collect();
        Handler { shared, specs }
    }

    fn runbook(&self, id: &str) -> Option<&Runbook> {
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
        let inv = commands::parse(spec, &sub, &given)
            .map_err(|e| format!("That input was not accepted: {e}."))?;
        let member_roles: Vec<u64> = c
            .member
            .as_ref()
            .map(|m| m.roles.iter().map(|r| r.get()).collect())
            .unwrap_or_default();
        may_invoke(
            self.roles(),
            &member_roles,
            &inv.target,
            &format!("/{} {}", inv.runbook, inv.subcommand),
        )?;
        Ok(inv)
    }

    async fn command(&self, ctx: &Context, c: CommandInteraction) {
        let inv = match self.admit(&c) {
            Ok(inv) => inv,
            Err(sentence) => {
                tracing::info!(user = %c.user.id, command = %c.data.name, refusal = %sentence, "refused");
                return reply_ephemeral(ctx, &c, &sentence).await;
            }
        };
        let label = format!("/{} {}", inv.runbook, inv.subcommand);
        tracing::info!(user = %c.user.id, command = %label, "command");
        let Some(runbook) = self.runbook(&inv.runbook) else {
            return reply_ephemeral(ctx, &c, "That runbook is no longer loaded.").await;
        };
        let runnable = match &inv.target {
            Target::Step(id) => matches!(
                runbook.step(id).map(|s| &s.check),
                Some(Check::ContainerMemory(_))
            ),
            _ => false,
        };
        if !runnable {
            let sentence = format!(
                "{label} is not available yet: this version runs /{} status; the rest of the runbook follows in later releases.",
                inv.runbook
            );
            return reply_ephemeral(ctx, &c, &sentence).await;
        }

        let incident = self.shared.settings.discord.incident_channel_id;
        let in_incident = c.channel_id.get() == incident
            || c.channel
                .as_ref()
                .and_then(|ch| ch.parent_id)
                .map(ChannelId::get)
                == Some(incident);
        // Acknowledge first. Outside the incident channel the report goes
        // there and the requester gets a private pointer to it.
        let defer = CreateInteractionResponse::Defer(
            CreateInteractionResponseMessage::new().ephemeral(!in_incident),
        );
        if let Err(e) = c.create_response(&ctx.http, defer).await {
            tracing::error!(command = %label, error = %e, "could not acknowledge the interaction");
            return;
        }

        let settings = &self.shared.settings;
        let Target::Step(step) = &inv.target else {
            unreachable!("only steps are runnable")
        };
        let outcome = run_step(
            settings,
            &settings.scope(),
            self.shared.docker_host_env.clone(),
            runbook,
            step,
        )
        .await;
        let edit = match outcome {
            Err(e) => {
                tracing::warn!(command = %label, error = %crate::cause_chain(&e), "step failed");
                EditInteractionResponse::new().content(format!("Could not run {label}: {e}."))
            }
            Ok(d) => {
                tracing::info!(command = %label, outcome = d.outcome().label(), "step done");
                let (embed, chart) = embed::report(&d, runbook);
                if in_incident {
                    EditInteractionResponse::new()
                        .embed(embed)
                        .new_attachment(chart)
                } else {
                    let post = CreateMessage::new()
                        .content(format!(
                            "{label} requested by <@{}> in <#{}>",
                            c.user.id, c.channel_id
                        ))
                        // Say who asked without pinging them.
                        .allowed_mentions(CreateAllowedMentions::new())
                        .embed(embed)
                        .add_file(chart);
                    match ChannelId::new(incident).send_message(&ctx.http, post).await {
                        Ok(msg) => EditInteractionResponse::new().content(format!(
                            "Posted the report in <#{incident}>: {}",
                            msg.link()
                        )),
                        Err(e) => {
                            tracing::error!(error = %e, channel = incident, "posting to the incident channel failed");
                            EditInteractionResponse::new().content(format!(
                                "The report could not be posted in <#{incident}>; check that the bot may send messages and attach files there."
                            ))
                        }
                    }
                }
            }
        };
        if let Err(e) = c.edit_response(&ctx.http, edit).await {
            tracing::error!(command = %label, error = %e, "could not edit the response");
        }
    }

    async fn autocomplete(&self, ctx: &Context, c: CommandInteraction) {
        let choices = self.service_choices(&c).await.unwrap_or_default();
        let response = CreateInteractionResponse::Autocomplete(
            CreateAutocompleteResponse::new().set_choices(choices),
        );
        if let Err(e) = c.create_response(&ctx.http, response).await {
            tracing::warn!(error = %e, "autocomplete response failed");
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
        let member_roles: Vec<u64> = c
            .member
            .as_ref()
            .map(|m| m.roles.iter().map(|r| r.get()).collect())
            .unwrap_or_default();
        may_invoke(self.roles(), &member_roles, &Target::Causes, "").ok()?;
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

async fn reply_ephemeral(ctx: &Context, c: &CommandInteraction, sentence: &str) {
    let msg = CreateInteractionResponseMessage::new()
        .content(sentence)
        .ephemeral(true);
    if let Err(e) = c
        .create_response(&ctx.http, CreateInteractionResponse::Message(msg))
        .await
    {
        tracing::error!(error = %e, "could not send an ephemeral reply");
    }
}
