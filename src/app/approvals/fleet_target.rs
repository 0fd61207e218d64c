//! Which host a request is for, in a fleet: the service's running
//! container on the host `host:` names, or on the one host it runs on.
//! This host's container is inspected here, as without a fleet; another
//! host's is taken from what its node published (id, name, memory), and
//! that node checks it again before it runs anything (`actions`).

use crate::app::actions::{restart_target, RestartTarget};
use crate::app::App;
use crate::config::Scope;
use crate::core::memory::{human_bytes, ContainerSample, Reading};
use std::time::Duration;
use time::OffsetDateTime;

/// Where a request's container runs.
pub(super) enum Target {
    /// On this host: inspected, as approvers are shown it.
    Here(RestartTarget),
    /// On another node's host, as it last published it.
    There {
        node: String,
        sample: ContainerSample,
    },
}

/// The service's one running container across the fleet (or on the host
/// `wanted`, as `host:` named it); `Err` is the sentence for the
/// requester.
pub(super) async fn fleet_target(
    app: &App,
    wanted: Option<String>,
    service: &str,
    now: OffsetDateTime,
) -> Result<Target, String> {
    let own = app.settings.fleet.node.as_str();
    let wanted = wanted.filter(|h| !h.is_empty());
    let Scope::Project(project) = &app.scope else {
        return Err("No request was made: actions need a watched Compose project.".into());
    };
    let limit = Duration::from_secs(app.settings.docker.timeout_secs.max(1));
    let nodes = match tokio::time::timeout(limit, app.store.fleet()).await {
        Ok(Ok(nodes)) => nodes,
        Ok(Err(e)) => return Err(format!("Nothing was requested: {e}.")),
        Err(_) => return Err("Nothing was requested: the fleet's database did not answer.".into()),
    };
    if let Some(h) = wanted.as_deref().filter(|h| *h != own) {
        if !nodes.iter().any(|n| n.name == h) {
            return Err(format!("No request was made: no host '{h}' in the fleet."));
        }
    }
    let fresh = app.settings.fleet.blind_after_secs.max(1) as f64;
    let mut found: Vec<(String, Option<ContainerSample>)> = Vec::new();
    // Hosts watched from afar where the service runs (or that were named).
    let mut afar: Vec<String> = Vec::new();
    if wanted.as_deref().is_none_or(|h| h == own) {
        let here = app
            .engine
            .list(&app.scope)
            .await
            .map(|l| l.iter().any(|c| c.service.as_deref() == Some(service)));
        if here.unwrap_or(wanted.is_some()) {
            found.push((own.to_string(), None));
        }
    }
    for n in nodes
        .into_iter()
        .filter(|n| n.name != own && wanted.as_deref().is_none_or(|h| h == n.name))
    {
        // No bot runs beside an engine watched from afar: nothing would
        // execute there.
        if n.role == crate::app::fleet::REMOTE {
            let runs_there = n.containers.iter().any(|c| {
                c.service.as_deref() == Some(service) && c.project.as_deref() == Some(project)
            });
            if wanted.is_some() || runs_there {
                afar.push(n.name);
            }
            continue;
        }
        // A blind host's rows are too old to act on.
        if n.silent_secs > fresh || n.stale_secs.is_none_or(|s| s > fresh) {
            if wanted.is_some() {
                return Err(format!(
                    "No request was made: host '{}' has not published fresh data; its bot or engine is away.",
                    n.name
                ));
            }
            continue;
        }
        let mut running: Vec<ContainerSample> = n
            .containers
            .into_iter()
            .filter(|c| c.project.as_deref() == Some(project.as_str()))
            .filter(|c| c.service.as_deref() == Some(service) && c.reading != Reading::Gone)
            .collect();
        match running.len() {
            0 => {}
            1 => found.push((n.name, running.pop())),
            count => {
                return Err(format!(
                    "No request was made: service '{service}' has {count} containers on host '{}'; one request restarts one container.",
                    n.name
                ))
            }
        }
    }
    if let (true, Some(host)) = (found.is_empty(), afar.first()) {
        return Err(format!(
            "No request was made: host '{host}' is watched from afar (no bot runs beside its engine); actions run only where a bot does."
        ));
    }
    match found.len() {
        0 => Err(format!(
            "No request was made: service '{service}' has no running container on {}.",
            wanted.map_or("any host of the fleet".to_string(), |h| format!("host '{h}'"))
        )),
        1 => match found.pop().expect("one") {
            (_, None) => restart_target(&app.engine, &app.watcher, &app.scope, service, now)
                .await
                .map(Target::Here)
                .map_err(|e| {
                    tracing::warn!(service, error = %crate::cause_chain(&e), "no container to request an action for");
                    format!("No request was made: {}.", e.for_chat())
                }),
            (node, Some(sample)) => Ok(Target::There { node, sample }),
        },
        _ => Err(format!(
            "No request was made: service '{service}' runs on {}; say which with host:.",
            found
                .iter()
                .map(|(h, _)| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// What approvers are shown of a container on another host.
pub(super) fn summary(node: &str, c: &ContainerSample) -> String {
    let memory = match c.reading {
        Reading::Sampled { usage_bytes, .. } => human_bytes(usage_bytes),
        _ => "memory unknown".into(),
    };
    let short: String = c.id.chars().take(12).collect();
    format!("{} ({short}, on host {node}): {memory}", c.name)
}
