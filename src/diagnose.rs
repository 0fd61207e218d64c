//! Runs one runbook step end to end: picks the probe its check needs, takes
//! the observation, and has the core judge it.
//!
//! This is orchestration only: probing belongs to the adapters, judging to
//! `core::diagnosis`, presenting to `render`. The terminal (`cli`) calls it
//! today; the chat front end will call the same function.

use crate::config::{Scope, Settings};
use crate::core::diagnosis::{judge_memory, MemoryReport, Outcome};
use crate::core::runbook::{Check, Runbook};
use crate::docker::{DockerError, Engine};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A judged step, with what it looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub runbook: String,
    pub runbook_title: String,
    pub scope: ScopeView,
    pub endpoint: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// The scope, as it reads in JSON: `{"project": "rota-cc"}` or `{"all": true}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeView {
    Project(String),
    All(bool),
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Finding {
    ContainerMemory(MemoryReport),
}

impl Diagnosis {
    pub fn outcome(&self) -> Outcome {
        match &self.finding {
            Finding::ContainerMemory(r) => r.verdict.outcome,
        }
    }
}

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
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{}", no_containers_message(scope, endpoint, running))]
    NoContainers {
        scope: Scope,
        endpoint: String,
        /// Running Compose projects and their container counts.
        running: BTreeMap<String, usize>,
    },
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

/// Runs step `step_id` of `runbook` against the engine the settings name.
/// `docker_host_env` is DOCKER_HOST, read by the caller.
pub async fn run_step(
    settings: &Settings,
    scope: &Scope,
    docker_host_env: Option<String>,
    runbook: &Runbook,
    step_id: &str,
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
    let Check::ContainerMemory(check) = &step.check else {
        return Err(DiagnoseError::NotAvailable {
            step: step.id.clone(),
            kind: step.check.kind(),
        });
    };

    let endpoint = settings.docker_endpoint(docker_host_env);
    let engine = connect(
        settings,
        &endpoint,
        Duration::from_secs(settings.docker.timeout_secs),
    )
    .await?;
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
    Ok(Diagnosis {
        runbook: runbook.id().to_string(),
        runbook_title: runbook.runbook.title.clone(),
        scope: match scope {
            Scope::Project(p) => ScopeView::Project(p.clone()),
            Scope::All => ScopeView::All(true),
        },
        endpoint,
        finding: Finding::ContainerMemory(judge_memory(step, check, &snapshot)),
    })
}

/// The Compose services running in `scope`, sorted and distinct, within
/// `timeout` (autocomplete must answer quickly).
pub async fn running_services(
    settings: &Settings,
    scope: &Scope,
    docker_host_env: Option<String>,
    timeout: Duration,
) -> Result<Vec<String>, DiagnoseError> {
    let endpoint = settings.docker_endpoint(docker_host_env);
    let engine = connect(settings, &endpoint, timeout).await?;
    let mut services: Vec<String> = engine
        .list(scope)
        .await?
        .into_iter()
        .filter_map(|c| c.service)
        .collect();
    services.sort();
    services.dedup();
    Ok(services)
}

async fn connect(
    settings: &Settings,
    endpoint: &str,
    timeout: Duration,
) -> Result<Engine, DockerError> {
    Engine::connect(endpoint, timeout, settings.docker.max_concurrent_stats).await
}
