//! The gateway's events: READY registers the slash commands (the loops do
//! not wait for it: they started with the process), shard stages keep
//! health honest about the session, and interactions go to the pipeline,
//! autocomplete or the click handler.

use super::responder::Responder;
use super::{autocomplete, click, commands, pipeline, register};
use crate::app::App;
use crate::core::commands::CommandSpec;
use serenity::all::{
    async_trait, ConnectionStage, Context, EventHandler, GuildId, Interaction, Reaction,
    ReactionType, Ready, ShardStageUpdateEvent,
};
use std::sync::{Arc, OnceLock};

pub(super) struct Handler {
    /// Set before the session connects (the client is built first, so the
    /// application's chat port can share its REST client).
    app: Arc<OnceLock<Arc<App>>>,
    /// Derived once from the runbooks; the same specs are registered and
    /// used to check every invocation.
    specs: OnceLock<Vec<CommandSpec>>,
}

impl Handler {
    pub fn new(app: Arc<OnceLock<Arc<App>>>) -> Handler {
        Handler {
            app,
            specs: OnceLock::new(),
        }
    }

    /// The application and the command specs; `None` only before
    /// `Gateway::run` (no event arrives then).
    fn get(&self) -> Option<(&App, &[CommandSpec])> {
        let app = self.app.get()?;
        Some((app, self.specs.get_or_init(|| commands::specs(app))))
    }
}

#[async_trait]
impl EventHandler for Handler {
    /// A 📌 on a message of an incident's thread adds it to the timeline.
    async fn reaction_add(&self, _ctx: Context, reaction: Reaction) {
        let ReactionType::Unicode(emoji) = &reaction.emoji else {
            return;
        };
        if emoji != crate::app::pins::PIN {
            return;
        }
        let Some((app, _)) = self.get() else {
            return;
        };
        let by = reaction.user_id.map_or(0, |u| u.get());
        crate::app::pins::pinned(
            app,
            reaction.channel_id.get(),
            reaction.message_id.get(),
            by,
        )
        .await;
    }

    async fn ready(&self, ctx: Context, ready: Ready) {
        let Some((app, specs)) = self.get() else {
            return;
        };
        app.health.set_gateway(true);
        let guild = GuildId::new(app.settings.discord.guild_id);
        let commands = specs.iter().map(register::command).collect();
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
        if let Some((app, _)) = self.get() {
            app.health.set_gateway(up);
        }
    }

    async fn resume(&self, _ctx: Context, _event: serenity::all::ResumedEvent) {
        if let Some((app, _)) = self.get() {
            app.health.set_gateway(true);
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let Some((app, specs)) = self.get() else {
            return;
        };
        // Autocomplete changes nothing and must be quick: never claimed.
        let id = match &interaction {
            Interaction::Command(c) => Some(c.id),
            Interaction::Component(b) => Some(b.id),
            _ => None,
        };
        if let Some(id) = id {
            if !super::claim::claim(app, id.get()).await {
                return;
            }
        }
        dispatch(app, specs, &Responder::rest(ctx.http.clone()), interaction).await;
    }
}

/// Hands an interaction (claimed, where it must be) to the pipeline,
/// autocomplete or the click handler.
pub(super) async fn dispatch(
    app: &App,
    specs: &[CommandSpec],
    r: &Responder,
    interaction: Interaction,
) {
    match interaction {
        Interaction::Command(c) => pipeline::command(app, specs, r, c).await,
        Interaction::Autocomplete(c) => autocomplete::answer(app, specs, r, c).await,
        Interaction::Component(b) => click::click(app, r, b).await,
        _ => {}
    }
}
