//! Slash-command registration: `core::commands::CommandSpec` → serenity's
//! `CreateCommand`. A straight translation; the spec decides everything.

use crate::core::commands::{CommandSpec, OptionKind, OptionSpec};
use serenity::all::{CommandOptionType, CreateCommand, CreateCommandOption};

pub fn command(spec: &CommandSpec) -> CreateCommand {
    let mut cmd = CreateCommand::new(spec.name.clone())
        .description(spec.description.clone())
        .dm_permission(false);
    // A subcommand named `group sub` goes into the subcommand group
    // `group` (created where its first subcommand is).
    let mut groups: Vec<(String, CreateCommandOption)> = Vec::new();
    let mut order: Vec<Result<CreateCommandOption, String>> = Vec::new();
    for sub in &spec.subcommands {
        let (group, name) = match sub.name.split_once(' ') {
            Some((g, n)) => (Some(g), n),
            None => (None, sub.name.as_str()),
        };
        let leaf = sub.options.iter().fold(
            CreateCommandOption::new(
                CommandOptionType::SubCommand,
                name.to_string(),
                sub.description.clone(),
            ),
            |s, o| s.add_sub_option(option(o)),
        );
        match group {
            None => order.push(Ok(leaf)),
            Some(g) => match groups.iter_mut().find(|(n, _)| n == g) {
                Some((_, opt)) => *opt = opt.clone().add_sub_option(leaf),
                None => {
                    let opt = CreateCommandOption::new(
                        CommandOptionType::SubCommandGroup,
                        g.to_string(),
                        crate::core::text::clip(&format!("{g}: {}", sub.description), 100),
                    )
                    .add_sub_option(leaf);
                    groups.push((g.to_string(), opt));
                    order.push(Err(g.to_string()));
                }
            },
        }
    }
    for entry in order {
        let option = match entry {
            Ok(leaf) => Some(leaf),
            Err(g) => groups.iter().find(|(n, _)| *n == g).map(|(_, o)| o.clone()),
        };
        if let Some(option) = option {
            cmd = cmd.add_option(option);
        }
    }
    cmd
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
