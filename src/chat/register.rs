//! Slash-command registration: `core::commands::CommandSpec` → serenity's
//! `CreateCommand`. A straight translation; the spec decides everything.

use crate::core::commands::{CommandSpec, OptionKind, OptionSpec};
use serenity::all::{CommandOptionType, CreateCommand, CreateCommandOption};

pub fn command(spec: &CommandSpec) -> CreateCommand {
    spec.subcommands.iter().fold(
        CreateCommand::new(spec.name.clone())
            .description(spec.description.clone())
            .dm_permission(false),
        |cmd, sub| {
            cmd.add_option(sub.options.iter().fold(
                CreateCommandOption::new(
                    CommandOptionType::SubCommand,
                    sub.name.clone(),
                    sub.description.clone(),
                ),
                |s, o| s.add_sub_option(option(o)),
            ))
        },
    )
}

fn option(o: &OptionSpec) -> CreateCommandOption {
    let (kind, base) = match &o.kind {
        OptionKind::Service { .. } | OptionKind::Host => (CommandOptionType::String, None),
        OptionKind::Text { max_len } => (CommandOptionType::String, Some(*max_len)),
        OptionKind::Integer { .. } => (CommandOptionType::Integer, None),
        OptionKind::Choice { .. } => (CommandOptionType::String, None),
        OptionKind::User => (CommandOptionType::User, None),
    };
    let mut opt =
        CreateCommandOption::new(kind, o.name.clone(), o.description.clone()).required(o.required);
    match &o.kind {
        // Services come from the containers actually running, so they are
        // offered by autocomplete rather than fixed choices.
        OptionKind::Service { .. } => opt = opt.set_autocomplete(true).max_length(128),
        // Hosts come from the nodes that publish to the fleet's database.
        OptionKind::Host => opt = opt.set_autocomplete(true).max_length(64),
        OptionKind::Text { .. } => {
            if let Some(max) = base {
                opt = opt.min_length(1).max_length(max);
            }
        }
        OptionKind::User => {}
        OptionKind::Choice { values } => {
            for v in values {
                opt = opt.add_string_choice(v.clone(), v.clone());
            }
        }
        OptionKind::Integer { min, max } => {
            // serenity's builder takes unsigned bounds; runbook validation
            // keeps parameter bounds sensible, negative ones are not sent.
            if let Ok(min) = u64::try_from(*min) {
                opt = opt.min_int_value(min);
            }
            if let Ok(max) = u64::try_from(*max) {
                opt = opt.max_int_value(max);
            }
        }
    }
    opt
}
