//! State-changing actions, orchestrated: finding exactly which container a
//! request is for, and executing an approved request with the checks that
//! must still hold at that moment (same container, same project).
//!
//! Only typed values reach here: a service name checked against the
//! runbook's list, a container id from the engine, typed numbers. Nothing is
//! run from text. The effects: the engine's restart of one container, and
//! (`close_idle`) terminating idle sessions of the monitored database.

mod close_idle;
pub use close_idle::{
    close_idle_target, describe as describe_closed, execute_close_idle, CloseIdlePlan,
};

use crate::config::Scope;
use crate::core::incident::span;
use crate::core::memory::{human_bytes, Reading};
use crate::docker::{ContainerDetails, DockerError, Engine};
use crate::watch::Watcher;
use std::time::Duration;
use time::OffsetDateTime;

/// The container a restart request is for, as approvers are shown it.
#[derive(Debug, Clone)]
pub struct RestartTarget {
    pub container: ContainerDetails,
    /// "rota-cc-web-1 (3f2a1b9c0d4e, image rota/web:1.4): 523.7MiB, up 2 h 05 min"
    pub summary: String,
}

/// What an executed restart left behind.
#[derive(Debug, Clone)]
pub struct Restarted {
    pub container: ContainerDetails,
    pub usage_after: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("service '{service}' has no running container in the watched project")]
    NoContainer { service: String },
    #[error("service '{service}' has {count} containers; restart them one request at a time is not supported yet")]
    Ambiguous { service: String, count: usize },
    #[error("the container of '{service}' was recreated since the request (it was {was}, now {now}); make a new request")]
    Recreated {
        service: String,
        was: String,
        now: String,
    },
    #[error("container {id} is not part of the watched project; refusing to touch it")]
    NotInProject { id: String },
    #[error("actions need a watched Compose project (watch.project); watching every container is read-only")]
    NoProject,
    #[error("nothing to close: {what}")]
    NothingToClose { what: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    AppDb(#[from] crate::appdb::AppDbError),
}

impl ActionError {
    /// The sentence for a chat channel: the engine's address stays in the
    /// log.
    pub fn for_chat(&self) -> String {
        match self {
            ActionError::Docker(DockerError::Timeout { secs, .. }) => {
                format!("the Docker engine did not answer within {secs}s")
            }
            ActionError::Docker(_) => {
                "the Docker engine cannot be reached; the bot's log has the details".into()
            }
            other => other.to_string(),
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The container of `service` in `scope` that an alert naming only the
/// service concerns: a running one if any, else the last one created
/// (stopped containers count: an OOM kill may have left it down).
pub async fn service_container(
    engine: &Engine,
    scope: &Scope,
    service: &str,
) -> Result<Option<(String, String)>, DockerError> {
    let mut found = containers_of(engine, scope, service).await?;
    // Running first, then the most recently started.
    found.sort_by_key(|d| std::cmp::Reverse((d.running, d.started_at)));
    Ok(found.into_iter().next().map(|d| (d.id, d.name)))
}

/// Every container of `service` in `scope`, stopped ones too, as inspected.
pub async fn containers_of(
    engine: &Engine,
    scope: &Scope,
    service: &str,
) -> Result<Vec<ContainerDetails>, DockerError> {
    let mut found = Vec::new();
    for c in engine.list_all(scope).await? {
        if c.service.as_deref() != Some(service) {
            continue;
        }
        if let Some(d) = engine.inspect(&c.id).await? {
            found.push(d);
        }
    }
    Ok(found)
}

/// The one running container of `service` in `scope`, with what approvers
/// need to see.
pub async fn restart_target(
    engine: &Engine,
    watcher: &Watcher,
    scope: &Scope,
    service: &str,
    now: OffsetDateTime,
) -> Result<RestartTarget, ActionError> {
    if *scope == Scope::All {
        return Err(ActionError::NoProject);
    }
    let mut listed: Vec<_> = engine
        .list(scope)
        .await?
        .into_iter()
        .filter(|c| c.service.as_deref() == Some(service))
        .collect();
    let one = match listed.len() {
        0 => {
            return Err(ActionError::NoContainer {
                service: service.into(),
            })
        }
        1 => listed.remove(0),
        count => {
            return Err(ActionError::Ambiguous {
                service: service.into(),
                count,
            })
        }
    };
    let container = engine
        .inspect(&one.id)
        .await?
        .ok_or_else(|| ActionError::NoContainer {
            service: service.into(),
        })?;
    let memory = match watcher.read_one(one).await? {
        Reading::Sampled { usage_bytes, .. } => human_bytes(usage_bytes),
        _ => "memory unknown".into(),
    };
    let uptime = container
        .started_at
        .map(|t| format!(", up {}", span(now - t)))
        .unwrap_or_default();
    let summary = format!(
        "{} ({}, image {}): {memory}{uptime}",
        container.name,
        short(&container.id),
        container.image
    );
    Ok(RestartTarget { container, summary })
}

/// Refuses unless `container_id` is still the running container of
/// `service` in the watched project (a request names one container; a
/// recreated one is not what approvers saw).
async fn still_the_services(
    engine: &Engine,
    scope: &Scope,
    service: &str,
    container_id: &str,
) -> Result<(), ActionError> {
    let Scope::Project(project) = scope else {
        return Err(ActionError::NoProject);
    };
    let current: Vec<_> = engine
        .list(scope)
        .await?
        .into_iter()
        .filter(|c| c.service.as_deref() == Some(service))
        .collect();
    if !current.iter().any(|c| c.id == container_id) {
        return Err(ActionError::Recreated {
            service: service.into(),
            was: short(container_id).into(),
            now: current
                .first()
                .map_or("no container".into(), |c| short(&c.id).to_string()),
        });
    }
    // Defence in depth: the listing was by project label, and so is this.
    let details = engine.inspect(container_id).await?;
    if details.and_then(|d| d.project).as_deref() != Some(project.as_str()) {
        return Err(ActionError::NotInProject {
            id: short(container_id).into(),
        });
    }
    Ok(())
}

/// Recreates the container a request was made for with `command` (the
/// runbook's, filled from the approved values), if it is still the
/// service's container in the watched project.
pub async fn execute_recreate(
    engine: &Engine,
    scope: &Scope,
    service: &str,
    container_id: &str,
    command: Vec<String>,
    stop_timeout: Duration,
) -> Result<ContainerDetails, ActionError> {
    still_the_services(engine, scope, service, container_id).await?;
    Ok(engine
        .recreate_with_command(container_id, command, stop_timeout)
        .await?)
}

/// Restarts the container a request was made for, if it is still the
/// service's container in the watched project; then reads its memory after
/// `settle`.
pub async fn execute_restart(
    engine: &Engine,
    watcher: &Watcher,
    scope: &Scope,
    service: &str,
    container_id: &str,
    stop_timeout: Duration,
    settle: Duration,
) -> Result<Restarted, ActionError> {
    still_the_services(engine, scope, service, container_id).await?;
    engine.restart(container_id, stop_timeout).await?;
    tokio::time::sleep(settle).await;
    let container =
        engine
            .inspect(container_id)
            .await?
            .ok_or_else(|| ActionError::NoContainer {
                service: service.into(),
            })?;
    let listed = engine
        .list(scope)
        .await?
        .into_iter()
        .find(|c| c.id == container_id);
    let usage_after = match listed {
        Some(c) => match watcher.read_one(c).await? {
            Reading::Sampled { usage_bytes, .. } => Some(usage_bytes),
            _ => None,
        },
        None => None,
    };
    Ok(Restarted {
        container,
        usage_after,
    })
}
