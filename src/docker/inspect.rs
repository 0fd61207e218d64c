//! Inspecting one container: its identity, state, start time and restart
//! history, as action requests, the OOM downtime watch and reconciliation
//! need them.

use super::{classify, DockerError, Engine, PROJECT_LABEL, SERVICE_LABEL};
use bollard::errors::Error as BollardError;
use time::OffsetDateTime;

/// What an action request shows and checks about its container.
#[derive(Debug, Clone)]
pub struct ContainerDetails {
    pub id: String,
    pub name: String,
    pub image: String,
    pub project: Option<String>,
    pub service: Option<String>,
    pub running: bool,
    /// In a restart loop (the engine restarting it after it died).
    pub restarting: bool,
    /// The kernel's OOM killer ended its last run (`State.OOMKilled`).
    pub oom_killed: bool,
    pub started_at: Option<OffsetDateTime>,
    /// How many times the engine restarted it by its restart policy
    /// (`RestartCount`; a manual restart does not count).
    pub restart_count: i64,
    /// `HostConfig.RestartPolicy.Name`: "no" (or empty), "always",
    /// "unless-stopped", "on-failure".
    pub restart_policy: String,
}

impl Engine {
    /// A container's identity and state; `None` when it does not exist.
    pub async fn inspect(&self, id: &str) -> Result<Option<ContainerDetails>, DockerError> {
        let client = self.client().await?;
        let found =
            match tokio::time::timeout(self.timeout, client.inspect_container(id, None)).await {
                Err(_) => {
                    return Err(DockerError::Timeout {
                        endpoint: self.endpoint.clone(),
                        secs: self.timeout.as_secs(),
                    })
                }
                Ok(Err(BollardError::DockerResponseServerError {
                    status_code: 404, ..
                })) => return Ok(None),
                Ok(Err(e)) => return Err(classify(&self.endpoint, self.timeout, e)),
                Ok(Ok(found)) => found,
            };
        let labels = found
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        let state = found.state.unwrap_or_default();
        let restart_policy = found
            .host_config
            .as_ref()
            .and_then(|h| h.restart_policy.as_ref())
            .and_then(|p| p.name)
            .map(|n| n.to_string())
            .unwrap_or_default();
        Ok(Some(ContainerDetails {
            id: found.id.unwrap_or_default(),
            name: found
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: found.config.and_then(|c| c.image).unwrap_or_default(),
            project: labels.get(PROJECT_LABEL).cloned(),
            service: labels.get(SERVICE_LABEL).cloned(),
            running: state.running.unwrap_or(false),
            restarting: state.restarting.unwrap_or(false),
            oom_killed: state.oom_killed.unwrap_or(false),
            started_at: state.started_at.and_then(|t| {
                OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
            }),
            restart_count: found.restart_count.unwrap_or(0),
            restart_policy,
        }))
    }
}
