//! The command line: `incident-bot <runbook> <step>` runs a runbook step in
//! the terminal; `incident-bot runbook check [DIR]` validates runbook files.
//!
//! Runbook steps are not compiled in: the `<runbook> <step>` commands are
//! built at run time from the files in `commands/`, so a new runbook needs no
//! Rust change. Exit codes follow the monitoring-plugin convention so the
//! commands drop into Nagios-style checks and shell scripts.

use crate::app::diagnose::{run_step, Probes, StepInput};
use crate::config::{Scope, Settings};
use crate::core::diagnosis::Outcome;
use crate::core::runbook::Problem;
use crate::{render, runbooks};
use admin::runtime;

/// `println!` that does not panic when the reader has gone (`| head`):
/// the rest of the output has nowhere to go, and the exit code still says
/// the outcome.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod admin;
mod health;
mod step_args;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use step_args::{step_command, step_settings};

const EXIT_CODES: &str = "\
Runbook steps:
  incident-bot <RUNBOOK> <STEP> [--json] [--project NAME | --all]
  e.g. `incident-bot mem status`; `incident-bot mem --help` lists the steps.

Exit codes of runbook steps (the monitoring-plugin convention):
  0  OK        every value within the runbook's Expected line
  1  WARNING   close to a bar (see warn_ratio, limit_warn_percent)
  2  CRITICAL  the Expected line is broken; the runbook's conclusion applies
  3  UNKNOWN   could not tell: engine unreachable or hung, no containers,
               bad configuration or usage

Environment: DOCKER_HOST (as for the docker CLI), INCIDENT_BOT_CONFIG,
INCIDENT_BOT_<SECTION>__<KEY> (see config/default.toml), RUST_LOG.";

#[derive(Debug, Parser)]
#[command(name = "incident-bot", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// Configuration file layered over the defaults.
    #[arg(long, global = true, env = "INCIDENT_BOT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with runbook files.
    Runbook {
        #[command(subcommand)]
        command: RunbookCommand,
    },
    /// Run the Discord bot (needs DISCORD_TOKEN, DATABASE_URL and discord.* settings).
    Serve,
    /// Apply the database migrations (DATABASE_URL) and exit.
    Migrate,
    /// Print the audit log: who did what, when, with what result.
    Audit {
        /// Oldest entry to show: RFC 3339 (2026-02-21T14:00:00Z) or an age
        /// such as 30m, 12h, 7d.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Take a host out of the fleet: forget its node and its published
    /// samples, so reports stop showing it as blind. Refused while its
    /// bot is still heard from (within fleet.blind_after_secs).
    ForgetNode {
        /// The node's name, as reports show its host.
        node: String,
    },
    /// Ask a running bot's HTTP endpoint whether it is healthy (default: its
    /// own /healthz at http.listen); exit 0 on a 2xx answer. The container
    /// image's health check.
    Health {
        /// The URL to ask (plain http), e.g. http://incident-bot:9187/metrics.
        url: Option<String>,
        /// Print the answer's body.
        #[arg(long)]
        print: bool,
    },
    /// A runbook step, e.g. `mem status` (built from commands/*.toml).
    #[command(external_subcommand)]
    Step(Vec<String>),
}

#[derive(Debug, Subcommand)]
enum RunbookCommand {
    /// Validate runbook files; print every problem with file and line.
    Check {
        /// Directory of runbook files (default: runbooks.dir from config).
        dir: Option<PathBuf>,
    },
}

/// Entry point of the binary.
/// Set when the command line asks for JSON: then every error is also a JSON
/// object on stdout, so scripts never have to parse prose.
static JSON_ERRORS: AtomicBool = AtomicBool::new(false);

pub fn main() -> ExitCode {
    JSON_ERRORS.store(std::env::args().any(|a| a == "--json"), Ordering::Relaxed);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    // A service logs what it does; a terminal command stays quiet unless
    // something is wrong. RUST_LOG overrides both.
    crate::logging::init(if matches!(cli.command, Command::Serve) {
        "info"
    } else {
        "warn"
    });
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            // Runbook steps speak the monitoring convention; the rest don't.
            let code = match cli.command {
                Command::Step(_) => Outcome::Unknown.exit_code(),
                _ => 1,
            };
            return fail(&e.to_string(), code);
        }
    };
    match cli.command {
        Command::Runbook {
            command: RunbookCommand::Check { dir },
        } => runbook_check(&dir.unwrap_or_else(|| settings.runbooks.dir.clone())),
        Command::Serve => serve(settings),
        Command::Migrate => admin::migrate(&settings),
        Command::Audit { since, json } => admin::audit(&settings, &since, json),
        Command::ForgetNode { node } => admin::forget_node(&settings, &node),
        Command::Health { url, print } => health::run(&settings, url, print),
        Command::Step(args) => step(&settings, args),
    }
}

/// `incident-bot serve`: fails at once, with one sentence, when anything it
/// needs is missing; otherwise runs until stopped.
fn serve(settings: Settings) -> ExitCode {
    match runtime().block_on(crate::startup::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(crate::startup::ServeError::Runbooks(problems)) => {
            print_problems(&problems);
            fail(
                "the runbooks are invalid; fix them (see `incident-bot runbook check`)",
                1,
            )
        }
        Err(e) => {
            tracing::error!(error = %crate::cause_chain(&e), "serve stopped");
            fail(&e.to_string(), 1)
        }
    }
}

fn runbook_check(dir: &std::path::Path) -> ExitCode {
    match runbooks::load_dir(dir) {
        Ok(loaded) => {
            for (path, rb) in &loaded {
                outln!(
                    "{}: ok ({}: {} steps, {} actions, {} verification items, {} escalations, {} alerts)",
                    path.display(),
                    rb.id(),
                    rb.steps.len(),
                    rb.actions.len(),
                    rb.verification.len(),
                    rb.escalations.len(),
                    rb.alerts.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            print_problems(&problems);
            ExitCode::FAILURE
        }
    }
}

fn print_problems(problems: &[Problem]) {
    for p in problems {
        eprintln!("{p}");
    }
    eprintln!(
        "{} problem{} found",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
}

/// `incident-bot <runbook> <step> [flags]`.
fn step(settings: &Settings, args: Vec<String>) -> ExitCode {
    let unknown = Outcome::Unknown.exit_code();
    let loaded = match runbooks::load_configured(settings) {
        Ok(r) => r,
        Err(problems) => {
            print_problems(&problems);
            return fail(
                "the runbooks are invalid; fix them (see `incident-bot runbook check`)",
                unknown,
            );
        }
    };
    let group = &args[0];
    let Some(runbook) = loaded.iter().find(|rb| rb.id() == group) else {
        let known: Vec<&str> = loaded.iter().map(|rb| rb.id()).collect();
        return fail(
            &format!(
                "unknown command '{group}'; runbooks: {} (or `runbook check`)",
                known.join(", ")
            ),
            unknown,
        );
    };
    let matches = match step_command(runbook).try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return clap_exit(e),
    };
    let (step_id, m) = matches.subcommand().expect("a step is required");
    let json = m.get_flag("json");
    let settings = match step_settings(settings, m) {
        Ok(s) => s,
        Err(sentence) => return fail(&sentence, unknown),
    };
    let scope: Scope = settings.scope();

    let app_db = match settings.secrets.monitored_database_url() {
        Ok(url) => url,
        Err(e) => return fail(&e.to_string(), unknown),
    };
    let engine = match crate::docker::Engine::from_settings(&settings) {
        Ok(engine) => engine,
        Err(e) => return fail(&e.to_string(), unknown),
    };
    // `--fleet`: every host as its node last published it, from the
    // fleet's database (this host's engine is not read).
    let fleet = match m.get_flag("fleet") || m.get_one::<String>("host").is_some() {
        true => match settings
            .secrets
            .database_url()
            .map(crate::store::Store::new)
        {
            Ok(Ok(store)) => Some(store),
            Ok(Err(e)) => return fail(&e.to_string(), unknown),
            Err(e) => return fail(&e.to_string(), unknown),
        },
        false => None,
    };
    let probes = Probes {
        settings: &settings,
        scope: &scope,
        engine: &engine,
        watcher: None,
        app_db,
        fleet: fleet.as_ref(),
    };
    let input = StepInput {
        service: m.get_one::<String>("service").cloned(),
        window_minutes: None,
        host: m.get_one::<String>("host").cloned(),
    };
    match runtime().block_on(run_step(&probes, runbook, step_id, &input)) {
        Ok(d) => {
            outln!(
                "{}",
                if json {
                    render::json(&d)
                } else {
                    render::text(&d)
                }
            );
            ExitCode::from(d.outcome().exit_code())
        }
        Err(e) => {
            tracing::debug!(error = %crate::cause_chain(&e), "command failed");
            // Whatever went wrong, nothing was judged: UNKNOWN.
            fail(&e.to_string(), unknown)
        }
    }
}

/// Usage errors exit UNKNOWN (3), not clap's 2, which means CRITICAL here.
fn clap_exit(e: clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() && JSON_ERRORS.load(Ordering::Relaxed) {
        let first = e.to_string();
        let first = first
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        outln!("{}", render::json_error(first, Outcome::Unknown));
    }
    if e.use_stderr() {
        ExitCode::from(Outcome::Unknown.exit_code())
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn fail(message: &str, code: u8) -> ExitCode {
    if JSON_ERRORS.load(Ordering::Relaxed) {
        outln!("{}", render::json_error(message, Outcome::Unknown));
    }
    eprintln!("error: {message}");
    ExitCode::from(code)
}
