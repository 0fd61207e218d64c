//! Diagnosis, the runbook's first half: one step end to end (pick the
//! probe its check needs, take the observation, have the core judge it),
//! the verification checklist (`verify`) and the root-cause ranking
//! (`causes`).
//!
//! Orchestration only: probing belongs to the adapters, judging to the
//! core, presenting to `render`. Every front end (the terminal, chat, the
//! alert loop) calls the same functions with its [`Probes`].

pub mod causes;
pub mod verify;

use crate::appdb::{AppDb, AppDbError};
use crate::config::Secret;
use crate::config::{Scope, Settings};
use crate::core::connections::{judge_connections, ConnectionRule};
use crate::core::diagnosis::{can_run, judge_memory, Diagnosis, Finding, ScopeView, Source};
use crate::core::profile::{judge_profile, ProfileRun};
use crate::core::runbook::{Check, Runbook, Step};
use crate::core::trend::{judge_trend, TrendRule};
use crate::docker::{DockerError, Engine};

use crate::watch::Watcher;
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

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
}

/// Runs step `step_id` of `runbook` with the probes its check needs,
/// answering from the live watcher when there is one and its data is fresh.
pub async fn run_step(
    p: &Probes<'_>,
    runbook: &Runbook,
    step_id: &str,
    input: &StepInput,
) -> Result<Diagnosis, DiagnoseError> {
    let (settings, scope, live) = (p.settings, p.scope, p.watcher);
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
    let diagnosis = |endpoint: String, source: Source, finding: Finding| Diagnosis {
        runbook: runbook.id().to_string(),
        runbook_title: runbook.runbook.title.clone(),
        scope: match scope {
            Scope::Project(p) => ScopeView::Project(p.clone()),
            Scope::All => ScopeView::All(true),
        },
        endpoint,
        source,
        finding,
    };
    let endpoint = p.engine.endpoint().to_string();
    match (can_run(&step.check), &step.check) {
        (
            true,
            Check::ExecProfile {
                timeout_secs,
                max_output_kib,
                profilers,
            },
        ) => {
            let Scope::Project(_) = scope else {
                return Err(DiagnoseError::NeedsProject);
            };
            let service = input.service.clone().unwrap_or_default();
            // Only the runbook's own argv ever runs; the service picks which.
            let Some(profiler) = profilers.iter().find(|p| p.service == service) else {
                return Err(DiagnoseError::NoProfiler {
                    service,
                    declared: profilers
                        .iter()
                        .map(|p| p.service.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let engine = p.engine;
            let mut listed: Vec<_> = engine
                .list(scope)
                .await?
                .into_iter()
                .filter(|c| c.service.as_deref() == Some(service.as_str()))
                .collect();
            listed.sort_by(|a, b| a.name.cmp(&b.name));
            let Some(container) = listed.into_iter().next() else {
                return Err(DiagnoseError::ServiceNotRunning { service });
            };
            let out = engine
                .exec_capture(
                    &container.id,
                    &profiler.command,
                    Duration::from_secs(u64::from(*timeout_secs)),
                    *max_output_kib as usize * 1024,
                )
                .await?;
            let report = judge_profile(
                step,
                ProfileRun {
                    service,
                    container: container.name,
                    argv: profiler.command.clone(),
                    output: out.output,
                    exit_code: out.exit_code,
                    truncated: out.truncated,
                    timed_out: out.timed_out,
                    timeout_secs: *timeout_secs,
                    max_output_kib: *max_output_kib,
                },
            );
            Ok(diagnosis(
                endpoint,
                Source::Engine,
                Finding::Profile(report),
            ))
        }
        (
            true,
            Check::PgConnections {
                max_connections,
                idle_in_transaction_warn_secs,
            },
        ) => {
            let timeout = Duration::from_secs(settings.docker.timeout_secs);
            let db = AppDb::connect(p.app_db, timeout).await?;
            let snapshot = db.sessions().await?;
            let rule = ConnectionRule {
                max_connections: *max_connections,
                idle_in_transaction_warn_secs: *idle_in_transaction_warn_secs,
                warn_ratio: 0.8,
            };
            let report = judge_connections(step, &rule, &snapshot);
            Ok(diagnosis(
                db.location().to_string(),
                Source::AppDatabase,
                Finding::Connections(report),
            ))
        }
        (true, Check::ContainerMemory(check)) => {
            let now = OffsetDateTime::now_utc();
            // The live cache answers at once when it is complete and fresh.
            if let Some(fresh) = live.and_then(|w| w.fresh(now)) {
                let report = judge_memory(step, check, &fresh.snapshot);
                let age_ms = fresh.oldest_ms.unwrap_or(0);
                return Ok(diagnosis(
                    endpoint,
                    Source::Live { age_ms },
                    Finding::ContainerMemory(report),
                ));
            }
            let limit = Duration::from_secs(settings.docker.timeout_secs);
            // Each request is bounded by `limit`; the whole report by twice
            // that, because the person waiting cares about the total.
            let report = memory(p.engine, scope, endpoint.clone(), step, check);
            match tokio::time::timeout(limit * 2, report).await {
                Ok(result) => Ok(diagnosis(endpoint, Source::Engine, result?)),
                Err(_) => Err(DiagnoseError::Docker(DockerError::Timeout {
                    endpoint,
                    secs: limit.as_secs() * 2,
                })),
            }
        }
        (
            true,
            Check::MemoryTrend {
                window_minutes,
                max_growth_mib_per_hour,
                min_samples,
            },
        ) => {
            let Some(watcher) = live else {
                return Err(DiagnoseError::NeedsWatcher {
                    step: step.id.clone(),
                });
            };
            let minutes = input
                .window_minutes
                .unwrap_or(u64::from(*window_minutes))
                .max(1);
            let rule = TrendRule {
                window_secs: minutes * 60,
                max_growth_mib_per_hour: *max_growth_mib_per_hour,
                min_samples: *min_samples,
                bar_mib: process_bar(runbook),
            };
            let now = OffsetDateTime::now_utc();
            let since = now - time::Duration::minutes(minutes as i64);
            let histories = watcher.history(input.service.as_deref(), since).await;
            if histories.is_empty() {
                return Err(DiagnoseError::NoHistory {
                    service: input.service.clone().unwrap_or_else(|| "any".into()),
                    minutes,
                });
            }
            let report = judge_trend(step, &rule, &histories, now);
            Ok(diagnosis(
                endpoint,
                Source::History,
                Finding::MemoryTrend(report),
            ))
        }
        _ => Err(DiagnoseError::NotAvailable {
            step: step.id.clone(),
            kind: step.check.kind(),
        }),
    }
}

/// The runbook's per-container bar (step `container_memory`'s
/// `process_max_mib`), which trends are projected against when a container
/// has no limit of its own.
fn process_bar(runbook: &Runbook) -> Option<f64> {
    runbook.steps.iter().find_map(|s| match &s.get_ref().check {
        Check::ContainerMemory(c) => c.process_max_mib,
        _ => None,
    })
}

async fn memory(
    engine: &Engine,
    scope: &Scope,
    endpoint: String,
    step: &Step,
    check: &crate::core::runbook::ContainerMemoryCheck,
) -> Result<Finding, DiagnoseError> {
    let snapshot = engine.memory_snapshot(scope).await?;
    if snapshot.containers.is_empty() {
        let running = match scope {
            Scope::Project(_) => engine.running_projects().await?,
            Scope::All => BTreeMap::new(),
        };
        return Err(DiagnoseError::NoContainers {
            scope: scope.clone(),
            endpoint,
            running,
        });
    }
    Ok(Finding::ContainerMemory(judge_memory(
        step, check, &snapshot,
    )))
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
