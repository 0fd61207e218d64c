//! Autocomplete of service and host options: the running services of the
//! watched project (or the fleet's hosts) that match what was typed, within
//! what the option allows, and nothing for someone who may not run the
//! command.

use super::input::subcommand_options;
use super::reply::redacted;
use super::responder::Responder;
use crate::app::diagnose::running_services;
use crate::app::App;
use crate::core::access::may_invoke;
use crate::core::commands::{CommandSpec, OptionKind, Target};
use serenity::all::{
    AutocompleteChoice, CommandInteraction, CreateAutocompleteResponse, CreateInteractionResponse,
};
use std::time::Duration;

pub(super) async fn answer(app: &App, specs: &[CommandSpec], r: &Responder, c: CommandInteraction) {
    let choices = choices(app, specs, &c).await.unwrap_or_default();
    let response = CreateInteractionResponse::Autocomplete(
        CreateAutocompleteResponse::new().set_choices(choices),
    );
    if let Err(e) = r.first(c.id, &c.token, response).await {
        tracing::warn!(error = %redacted(&e, &c.token), "autocomplete response failed");
    }
}

async fn choices(
    app: &App,
    specs: &[CommandSpec],
    c: &CommandInteraction,
) -> Option<Vec<AutocompleteChoice>> {
    let focused = c.data.autocomplete()?;
    let spec = specs.iter().find(|s| s.name == c.data.name)?;
    let (sub, _) = subcommand_options(&c.data.options()).ok()?;
    let option = spec
        .subcommands
        .iter()
        .find(|s| s.name == sub)?
        .options
        .iter()
        .find(|o| o.name == focused.name)?;
    let roles = super::input::command_caller(c).roles;
    may_invoke(app.roles(), &roles, &Target::Causes, "").ok()?;
    // Autocomplete must answer within 3 seconds too.
    let limit = Duration::from_secs(app.settings.docker.timeout_secs.min(2));
    let (names, allowed) = match &option.kind {
        OptionKind::Service { allowed } => (
            running_services(&app.engine, &app.scope, limit)
                .await
                .map_err(|e| tracing::warn!(error = %e, "autocomplete could not list services"))
                .ok()?,
            allowed.as_slice(),
        ),
        OptionKind::Host => (
            tokio::time::timeout(limit, app.store.node_names())
                .await
                .ok()?
                .map_err(|e| tracing::warn!(error = %crate::cause_chain(&e), "autocomplete could not list hosts"))
                .ok()?,
            &[][..],
        ),
        _ => return None,
    };
    let typed = focused.value.to_lowercase();
    Some(
        names
            .into_iter()
            .filter(|s| allowed.is_empty() || allowed.contains(s))
            .filter(|s| s.to_lowercase().contains(&typed))
            .take(25)
            .map(|s| AutocompleteChoice::new(s.clone(), s))
            .collect(),
    )
}
