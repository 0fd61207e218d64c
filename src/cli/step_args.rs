//! The arguments of a runbook step in the terminal (`incident-bot mem
//! status --project shop`): the clap command of each runbook, with the
//! step's Expected line in its help, and the settings they make.

use super::EXIT_CODES;
use crate::config::Settings;
use crate::core::runbook::Runbook;
use clap::{Arg, ArgAction};

/// The settings a step runs with: `--config` after the step replaces the
/// file layer; `--project` and `--all` the scope.
pub(super) fn step_settings(settings: &Settings, m: &clap::ArgMatches) -> Result<Settings, String> {
    let mut settings = match m.get_one::<String>("config") {
        Some(path) => {
            Settings::load(Some(std::path::Path::new(path))).map_err(|e| e.to_string())?
        }
        None => settings.clone(),
    };
    if let Some(p) = m.get_one::<String>("project") {
        settings.watch.project = p.clone();
        settings.watch.all = false;
    }
    if m.get_flag("all") {
        settings.watch.all = true;
    }
    if !settings.watch.all && settings.watch.project.trim().is_empty() {
        return Err("--project needs a Compose project name (or use --all)".into());
    }
    Ok(settings)
}

/// The clap command of one runbook: a subcommand per step, with the step's
/// Expected line in its help.
pub(super) fn step_command(rb: &Runbook) -> clap::Command {
    let steps = rb.steps.iter().map(|s| {
        let s = s.get_ref();
        clap::Command::new(s.id.clone())
            .about(s.title.clone())
            .long_about(format!(
                "{}\n\nExpected: {}\nIf different: {}",
                s.title, s.expected, s.if_different
            ))
            .after_help(EXIT_CODES)
            .arg(
                Arg::new("config")
                    .long("config")
                    .value_name("FILE")
                    .help("Configuration file layered over the defaults"),
            )
            .arg(
                Arg::new("json")
                    .long("json")
                    .action(ArgAction::SetTrue)
                    .help("Print the report as JSON"),
            )
            .arg(
                Arg::new("project")
                    .long("project")
                    .value_name("NAME")
                    .help("Watch this Compose project instead of the configured one"),
            )
            .arg(
                Arg::new("all")
                    .long("all")
                    .action(ArgAction::SetTrue)
                    .conflicts_with("project")
                    .help("Every running container on the engine, not one project"),
            )
            .arg(
                Arg::new("service")
                    .long("service")
                    .value_name("SERVICE")
                    .help("The Compose service (steps that look at one: profile)"),
            )
            .arg(
                Arg::new("fleet")
                    .long("fleet")
                    .action(ArgAction::SetTrue)
                    .conflicts_with("all")
                    .help("Every host of the fleet, from its database (DATABASE_URL)"),
            )
            .arg(
                Arg::new("host")
                    .long("host")
                    .value_name("NODE")
                    .conflicts_with("all")
                    .value_parser(|s: &str| match crate::core::commands::is_node_name(s) {
                        true => Ok(s.to_string()),
                        false => Err("not a host name"),
                    })
                    .help("Only this host of the fleet (implies --fleet)"),
            )
    });
    clap::Command::new(rb.id().to_string())
        .bin_name(format!("incident-bot {}", rb.id()))
        .about(rb.runbook.title.clone())
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommands(steps)
}
