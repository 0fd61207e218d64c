//! The Docker Engine adapter: the only module that knows bollard.
//!
//! It turns engine answers into the core's plain values
//! ([`MemorySnapshot`], [`ContainerSample`]) and engine failures into
//! [`DockerError`]s whose message is one sentence a person can act on. Every
//! request is bounded by the configured timeout, so a hung engine yields an
//! answer, never silence. The one change it can make, `restart`, is called
//! only for approved requests, after the caller has checked that the
//! container belongs to the watched project.

use crate::config::Scope;
use crate::core::cgroup::Driver;
use crate::core::memory::{own_limit, usage_without_cache, ContainerSample, Reading};
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{ListContainersOptions, RestartContainerOptions, StatsOptions};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

mod inspect;
mod probe;
mod recreate;
mod stream;
pub use inspect::ContainerDetails;
pub use probe::ExecOutput;
pub use stream::EngineEvent;

pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";

/// The engine the settings name: built once at start-up (no I/O) and
/// shared by every command, loop and action. Its API version is negotiated
/// on first use, once; a failed negotiation (engine down) is tried again
/// by the next call, so an engine that comes up later is picked up.
#[derive(Clone)]
pub struct Engine {
    /// The client before negotiation, at bollard's default version.
    base: Docker,
    /// The negotiated client, shared by every clone.
    negotiated: Arc<OnceCell<Docker>>,
    /// As configured, for messages: people recognise what they typed.
    endpoint: String,
    timeout: Duration,
}

/// Why the engine could not answer. `Display` is the sentence for people;
/// the cause chain (`source`) is for the log.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker engine at {endpoint} ({reason}); check that dockerd is running and that this user may use its socket, or set DOCKER_HOST")]
    Unreachable {
        endpoint: String,
        reason: String,
        #[source]
        source: Option<BollardError>,
    },
    #[error("the Docker engine at {endpoint} did not answer within {secs}s; check that dockerd is healthy (`docker info`)")]
    Timeout { endpoint: String, secs: u64 },
    #[error("unsupported Docker endpoint {endpoint}: use unix:///path/to/docker.sock, tcp://host:port or http://host:port")]
    BadEndpoint { endpoint: String },
    #[error("the Docker engine at {endpoint} refused the request: {source}")]
    Api {
        endpoint: String,
        #[source]
        source: BollardError,
    },
}

/// The engine's host, as `docker info` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub memory_bytes: u64,
    pub cgroup_driver: Driver,
}

/// A running container, as listed: what to sample, and how to name it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub service: Option<String>,
    pub project: Option<String>,
}

impl Listed {
    /// Its row in a report, read just now.
    pub fn sampled(self, reading: Reading) -> ContainerSample {
        ContainerSample {
            name: self.name,
            id: self.id,
            service: self.service,
            project: self.project,
            reading,
            age_ms: None,
        }
    }
}

impl Engine {
    /// The engine at `endpoint`; nothing is sent until the first request.
    /// Fails only on an endpoint of an unknown kind.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Engine, DockerError> {
        let secs = timeout.as_secs().max(1);
        let base = if let Some(path) = endpoint.strip_prefix("unix://") {
            Docker::connect_with_unix(path, secs, API_DEFAULT_VERSION)
        } else if endpoint.starts_with('/') {
            Docker::connect_with_unix(endpoint, secs, API_DEFAULT_VERSION)
        } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
            Docker::connect_with_http(endpoint, secs, API_DEFAULT_VERSION)
        } else {
            return Err(DockerError::BadEndpoint {
                endpoint: endpoint.to_string(),
            });
        }
        .map_err(|e| classify(endpoint, timeout, e))?;
        Ok(Engine {
            base,
            negotiated: Arc::new(OnceCell::new()),
            endpoint: endpoint.to_string(),
            timeout,
        })
    }

    /// The engine as the settings say: their endpoint and timeout.
    /// An engine over TCP with TLS client certificates: `dir` holds
    /// `ca.pem`, `cert.pem` and `key.pem`, as `docker --tlsverify` takes
    /// them.
    pub fn with_tls(endpoint: &str, dir: &Path, timeout: Duration) -> Result<Engine, DockerError> {
        let secs = timeout.as_secs().max(1);
        let base = Docker::connect_with_ssl(
            endpoint,
            &dir.join("key.pem"),
            &dir.join("cert.pem"),
            &dir.join("ca.pem"),
            secs,
            API_DEFAULT_VERSION,
        )
        .map_err(|e| classify(endpoint, timeout, e))?;
        let mut engine = Engine::new(endpoint, timeout)?;
        engine.base = base;
        Ok(engine)
    }

    pub fn from_settings(settings: &crate::config::Settings) -> Result<Engine, DockerError> {
        Engine::new(
            settings.docker_endpoint(),
            Duration::from_secs(settings.docker.timeout_secs),
        )
    }

    /// The client at the negotiated API version (the engine here may be
    /// older than bollard's default), negotiating on first use.
    pub(crate) async fn client(&self) -> Result<Docker, DockerError> {
        self.negotiated
            .get_or_try_init(|| self.bounded(self.base.clone().negotiate_version()))
            .await
            .cloned()
    }

    /// The endpoint as configured, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Host memory in bytes, as `docker info` reports it.
    pub async fn host_memory(&self) -> Result<u64, DockerError> {
        Ok(self.host().await?.memory_bytes)
    }

    /// What `docker info` says of the host: its memory and how the engine
    /// names container cgroups.
    pub async fn host(&self) -> Result<Host, DockerError> {
        use bollard::models::SystemInfoCgroupDriverEnum as D;
        let client = self.client().await?;
        let info = self.bounded(client.info()).await?;
        Ok(Host {
            memory_bytes: info.mem_total.unwrap_or(0).max(0) as u64,
            cgroup_driver: match info.cgroup_driver {
                Some(D::SYSTEMD) => Driver::Systemd,
                _ => Driver::Cgroupfs,
            },
        })
    }

    /// Running Compose projects and how many running containers each has.
    pub async fn running_projects(&self) -> Result<BTreeMap<String, usize>, DockerError> {
        let mut projects = BTreeMap::new();
        for c in self.list(&Scope::All).await? {
            if let Some(p) = c.project {
                *projects.entry(p).or_insert(0) += 1;
            }
        }
        Ok(projects)
    }

    /// Running containers in `scope`.
    pub async fn list(&self, scope: &Scope) -> Result<Vec<Listed>, DockerError> {
        self.list_where(scope, false).await
    }

    /// Containers in `scope`; stopped ones too when `all`.
    pub(crate) async fn list_where(
        &self,
        scope: &Scope,
        all: bool,
    ) -> Result<Vec<Listed>, DockerError> {
        let filters = match scope {
            Scope::Project(p) => Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{PROJECT_LABEL}={p}")],
            )])),
            Scope::All => None,
        };
        let options = ListContainersOptions {
            all,
            filters,
            ..Default::default()
        };
        let client = self.client().await?;
        let summaries = self.bounded(client.list_containers(Some(options))).await?;
        Ok(summaries
            .into_iter()
            .filter_map(|s| {
                let id = s.id?;
                let labels = s.labels.unwrap_or_default();
                let name = s
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_else(|| id.chars().take(12).collect());
                Some(Listed {
                    name,
                    service: labels.get(SERVICE_LABEL).cloned(),
                    project: labels.get(PROJECT_LABEL).cloned(),
                    id,
                })
            })
            .collect())
    }

    /// One one-shot stats read. The engine answers at its next collector
    /// tick (about a second), which is why these run concurrently.
    pub(crate) async fn sample(&self, c: Listed, host_memory_bytes: u64) -> ContainerSample {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let client = match self.client().await {
            Ok(client) => client,
            Err(e) => {
                return c.sampled(Reading::Failed {
                    reason: first_line(&e.to_string()),
                })
            }
        };
        let mut stats = client.stats(&c.id, Some(options));
        let reading = match tokio::time::timeout(self.timeout, stats.next()).await {
            Err(_) => Reading::Failed {
                reason: format!("no stats within {}s", self.timeout.as_secs()),
            },
            Ok(None) => Reading::Gone,
            Ok(Some(Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }))) => Reading::Gone,
            Ok(Some(Err(e))) => {
                tracing::warn!(container = %c.name, error = %e, "stats read failed");
                Reading::Failed {
                    reason: first_line(&e.to_string()),
                }
            }
            Ok(Some(Ok(s))) => reading_of(s, host_memory_bytes),
        };
        c.sampled(reading)
    }

    /// Restarts a container: SIGTERM, then SIGKILL after `stop_timeout`.
    /// The request may take that long, so it gets that long plus the usual
    /// bound. Callers check first that the container is theirs to restart.
    pub async fn restart(&self, id: &str, stop_timeout: Duration) -> Result<(), DockerError> {
        let bound = stop_timeout + self.timeout;
        let client = self.client().await?.with_timeout(bound);
        let options = RestartContainerOptions {
            t: Some(stop_timeout.as_secs().min(i32::MAX as u64) as i32),
            signal: None,
        };
        match tokio::time::timeout(bound, client.restart_container(id, Some(options))).await {
            Ok(result) => result.map_err(|e| classify(&self.endpoint, bound, e)),
            Err(_) => Err(DockerError::Timeout {
                endpoint: self.endpoint.clone(),
                secs: bound.as_secs(),
            }),
        }
    }

    /// Runs one engine request within the timeout, classifying failures.
    pub(crate) async fn bounded<T>(
        &self,
        request: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<T, DockerError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result.map_err(|e| classify(&self.endpoint, self.timeout, e)),
            Err(_) => Err(DockerError::Timeout {
                endpoint: self.endpoint.clone(),
                secs: self.timeout.as_secs(),
            }),
        }
    }
}

/// The memory reading of one stats answer, as `docker stats` computes it.
fn reading_of(s: bollard::models::ContainerStatsResponse, host_memory_bytes: u64) -> Reading {
    match s.memory_stats.and_then(|m| Some((m.usage?, m))) {
        // A stopped container answers with empty stats read at the zero
        // time; a running one without them lives on a host without the
        // memory cgroup, which must not read as gone.
        None if s
            .read
            .as_ref()
            .is_none_or(|r| r.to_string().starts_with("0001-01-01")) =>
        {
            Reading::Gone
        }
        None => Reading::Failed {
            reason:
                "the engine reports no memory statistics for it (is the memory cgroup enabled?)"
                    .into(),
        },
        Some((usage, m)) => Reading::Sampled {
            usage_bytes: usage_without_cache(usage, &m.stats.unwrap_or_default()),
            limit_bytes: own_limit(m.limit.unwrap_or(0), host_memory_bytes),
        },
    }
}

fn classify(endpoint: &str, timeout: Duration, e: BollardError) -> DockerError {
    let endpoint = endpoint.to_string();
    match e {
        BollardError::SocketNotFoundError(path) => DockerError::Unreachable {
            endpoint,
            reason: format!("no socket at {path}"),
            source: None,
        },
        // bollard's own per-request timeout, set to ours in `connect`.
        BollardError::RequestTimeoutError => DockerError::Timeout {
            endpoint,
            secs: timeout.as_secs(),
        },
        e @ BollardError::DockerResponseServerError { .. } => DockerError::Api {
            endpoint,
            source: e,
        },
        e => DockerError::Unreachable {
            endpoint,
            reason: root_cause(&e),
            source: Some(e),
        },
    }
}

/// The innermost cause's message: "Connection refused (os error 111)"
/// says more than "error trying to connect".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    first_line(&cur.to_string())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}
