//! Diagnosis, the runbook's first half: one step end to end (pick the
//! probe its check needs, take the observation, have the core judge it),
//! the verification checklist (`verify`) and the root-cause ranking
//! (`causes`).
//!
//! Orchestration only: probing belongs to the adapters, judging to the
//! core, presenting to `render`. Every front end (the terminal, chat, the
//! alert loop) calls the same functions with its [`Probes`].

pub mod causes;
mod fleet;
mod probe;
use probe::{connections, container_memory, memory_trend, process_bar, profile};
pub mod verify;

use crate::appdb::AppDbError;
use crate::config::Secret;
use crate::config::{Scope, Settings};
use crate::core::connections::ConnectionRule;
use crate::core::diagnosis::{can_run, Diagnosis, ScopeView};
use crate::core::runbook::{Check, Runbook, Step};
use crate::core::trend::TrendRule;
use crate::docker::{DockerError, Engine};

use crate::watch::Watcher;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    #[error("runbook '{runbook}' has no step '{step}'; its steps are: {available}")]
    UnknownStep {
        runbook: String,
        step: String,
        available: String,
    },
    #[error("step '{step}' runs a {kind} check, which this version cannot run yet")]
    NotAvailable { step: String, kind: &'static str },
    #[error("step '{step}' judges memory over time, which needs the history the bot's live watcher records: run it from Discord while `serve` runs")]
    NeedsWatcher { step: String },
    #[error("no container of service '{service}' has memory history in the last {minutes} minutes; is it running in the watched project?")]
    NoHistory { service: String, minutes: u64 },
    #[error("{}", if service.is_empty() { format!("profiling needs a service; the runbook declares profilers for: {declared}") } else { format!("no profiler is declared for service '{service}' in the runbook; declared: {declared}") })]
    NoProfiler { service: String, declared: String },
    #[error("service '{service}' has no running container in the watched project")]
    ServiceNotRunning { service: String },
    #[error("profiling runs commands inside a watched project's containers; watching every container is read-only")]
    NeedsProject,
    #[error("no host '{host}' in the fleet; its hosts are: {known}")]
    UnknownHost { host: String, known: String },
    #[error("the bot's watcher is not following the Docker engine: {why}")]
    NotWatching { why: crate::watch::EngineDown },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    AppDb(#[from] AppDbError),
    #[error("{}", no_containers_message(scope, endpoint, running))]
    NoContainers {
        scope: Scope,
        endpoint: String,
        /// Running Compose projects and their container counts.
        running: BTreeMap<String, usize>,
    },
}

impl DiagnoseError {
    /// Counts an engine or database failure for /metrics (a refused input
    /// is not a failure of either).
    pub fn count(&self) {
        match self {
            DiagnoseError::Docker(_) => crate::metrics::global().docker_error("diagnose"),
            DiagnoseError::AppDb(_) => {
                crate::metrics::global().postgres_error("monitored_database")
            }
            _ => {}
        }
    }

    /// The sentence for a chat channel: like `Display`, but without the
    /// names of other Compose projects on the host or the engine endpoint,
    /// which the channel has no business seeing.
    pub fn for_chat(&self) -> String {
        match self {
            DiagnoseError::NoContainers {
                scope: Scope::Project(p),
                ..
            } => format!("no running containers in Compose project '{p}'"),
            DiagnoseError::NoContainers { .. } => "no containers are running".into(),
            DiagnoseError::Docker(DockerError::Timeout { secs, .. }) => {
                format!("the Docker engine did not answer within {secs}s")
            }
            DiagnoseError::Docker(_) => {
                "the Docker engine cannot be reached; the bot's log has the details".into()
            }
            DiagnoseError::NotWatching { why } => match why {
                crate::watch::EngineDown::NotYet => {
                    "the bot is still connecting to the Docker engine; try again in a few seconds"
                        .into()
                }
                crate::watch::EngineDown::Timeout { secs } => {
                    format!("the Docker engine did not answer within {secs}s")
                }
                crate::watch::EngineDown::Failed(_) => {
                    "the Docker engine cannot be reached; the bot's log has the details".into()
                }
            },
            other => other.to_string(),
        }
    }
}

fn no_containers_message(
    scope: &Scope,
    endpoint: &str,
    running: &BTreeMap<String, usize>,
) -> String {
    match scope {
        Scope::All => format!("no containers are running on the Docker engine at {endpoint}"),
        Scope::Project(p) if running.is_empty() => format!(
            "no running containers in Compose project '{p}', and no Compose project is running on {endpoint}; use --all to look at every container"
        ),
        Scope::Project(p) => format!(
            "no running containers in Compose project '{p}'; running projects: {}; use --project NAME, or --all for every container",
            running
                .iter()
                .map(|(name, n)| format!("{name} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What a step was asked about, beyond the step itself (typed options).
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    /// Only this Compose service.
    pub service: Option<String>,
    /// The trend window in minutes, instead of the runbook's.
    pub window_minutes: Option<u64>,
    /// Only this host of the fleet.
    pub host: Option<String>,
}

/// What steps probe, and with what: the front end fills this once.
pub struct Probes<'a> {
    pub settings: &'a Settings,
    pub scope: &'a Scope,
    /// The engine, shared (its API version negotiated once).
    pub engine: &'a Engine,
    /// The live watcher, when `serve` runs one.
    pub watcher: Option<&'a Watcher>,
    /// The monitored application's PostgreSQL, if configured.
    pub app_db: Option<&'a Secret>,
    /// The fleet's database, when this node is one of a fleet: step 1
    /// then covers every host.
    pub fleet: Option<&'a crate::store::Store>,
}

/// Runs step `step_id` of `runbook` with the probes its check needs,
/// answering from the live watcher when there is one and its data is fresh.
pub async fn run_step(
    p: &Probes<'_>,
    runbook: &Runbook,
    step_id: &str,
    input: &StepInput,
) -> Result<Diagnosis, DiagnoseError> {
    let step = runbook
        .step(step_id)
        .ok_or_else(|| DiagnoseError::UnknownStep {
            runbook: runbook.id().to_string(),
            step: step_id.to_string(),
            available: runbook
                .steps
                .iter()
                .map(|s| s.get_ref().id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let (endpoint, source, finding) = match (can_run(&step.check), &step.check) {
        (
            true,
            Check::ExecProfile {
                timeout_secs,
                max_output_kib,
                profilers,
            },
        ) => profile(p, step, input, profilers, *timeout_secs, *max_output_kib).await?,
        (
            true,
            Check::PgConnections {
                max_connections,
                idle_in_transaction_warn_secs,
            },
        ) => {
            let rule = ConnectionRule {
                max_connections: *max_connections,
                idle_in_transaction_warn_secs: *idle_in_transaction_warn_secs,
                warn_ratio: 0.8,
            };
            connections(p, step, &rule).await?
        }
        (true, Check::ContainerMemory(check)) => match p.fleet {
            Some(store) => fleet::fleet_memory(p, store, step, check, input).await?,
            None => container_memory(p, step, check).await?,
        },
        (
            true,
            Check::MemoryTrend {
                window_minutes,
                max_growth_mib_per_hour,
                min_samples,
            },
        ) => {
            // The window typed, else the runbook's.
            let minutes = input.window_minutes.unwrap_or(u64::from(*window_minutes));
            let rule = TrendRule {
                window_secs: minutes.max(1) * 60,
                max_growth_mib_per_hour: *max_growth_mib_per_hour,
                min_samples: *min_samples,
                bar_mib: process_bar(runbook),
            };
            memory_trend(p, step, input, &rule).await?
        }
        _ => return Err(not_available(step)),
    };
    Ok(Diagnosis {
        runbook: runbook.id().to_string(),
        runbook_title: runbook.runbook.title.clone(),
        scope: match p.scope {
            Scope::Project(p) => ScopeView::Project(p.clone()),
            Scope::All => ScopeView::All(true),
        },
        endpoint,
        source,
        finding,
    })
}

fn not_available(step: &Step) -> DiagnoseError {
    DiagnoseError::NotAvailable {
        step: step.id.clone(),
        kind: step.check.kind(),
    }
}

/// The Compose services running in `scope`, sorted and distinct, within
/// `timeout` (autocomplete must answer quickly).
pub async fn running_services(
    engine: &Engine,
    scope: &Scope,
    timeout: Duration,
) -> Result<Vec<String>, DiagnoseError> {
    let listed = tokio::time::timeout(timeout, engine.list(scope))
        .await
        .unwrap_or(Err(DockerError::Timeout {
            endpoint: engine.endpoint().to_string(),
            secs: timeout.as_secs(),
        }))?;
    let mut services: Vec<String> = listed.into_iter().filter_map(|c| c.service).collect();
    services.sort();
    services.dedup();
    Ok(services)
}
