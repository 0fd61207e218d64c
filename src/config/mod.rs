//! Layered settings: the compiled-in `config/default.toml`, an optional file,
//! `INCIDENT_BOT_*` environment variables, then command-line flags.
//!
//! Only values live here; connecting to anything is the adapters' job. The
//! environment is read here only (the `INCIDENT_BOT_*` layer, `DOCKER_HOST`
//! and the secrets), once, so every other module sees plain settings.

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The documented defaults, compiled in so the binary runs from anywhere.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

mod fleet;
mod secrets;
pub use fleet::{FleetSettings, Interactions, RemoteEngine};
pub use secrets::{Secret, Secrets};

/// Where the docker CLI looks when neither the config nor DOCKER_HOST says.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub docker: DockerSettings,
    pub watch: WatchSettings,
    pub discord: DiscordSettings,
    pub approvals: ApprovalSettings,
    pub escalation: EscalationSettings,
    pub http: HttpSettings,
    pub verify: VerifySettings,
    pub runbooks: RunbookSettings,
    pub fleet: FleetSettings,
    pub paging: PagingSettings,
    /// runbook id → step id → keys of that step's check.
    #[serde(default)]
    pub thresholds: BTreeMap<String, BTreeMap<String, toml::Table>>,
    /// Tokens and database URLs, from the environment, never from a file
    /// of the repository.
    #[serde(skip)]
    pub secrets: Secrets,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerSettings {
    /// The engine endpoint. Empty in the files means DOCKER_HOST, else
    /// [`DEFAULT_DOCKER_HOST`]; resolved when the settings load, so it is
    /// never empty afterwards.
    pub host: String,
    pub timeout_secs: u64,
    pub max_concurrent_stats: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSettings {
    /// A name like `2024` arrives from the environment as a number.
    #[serde(deserialize_with = "string_or_number")]
    pub project: String,
    pub all: bool,
    /// A report flags the rows whose sample is older than this as stale.
    pub fresh_secs: u64,
    /// The watcher samples every container this often (milliseconds).
    pub sample_ms: u64,
    /// Where the cgroup hierarchy of the engine's host is mounted; empty
    /// turns kernel reads off (the engine's stats API is used).
    pub cgroup_root: String,
    /// One history point per container per this many seconds, in memory.
    pub history_step_secs: u64,
    /// Minutes of history kept in memory per container.
    pub history_minutes: u64,
    /// A point per container is written to the database this often.
    pub persist_secs: u64,
    /// Recorded history older than this is deleted.
    pub retention_hours: u64,
    /// The container list is re-read this often, in case events were lost.
    pub reconcile_secs: u64,
    /// Memory updates in an open incident's thread this often (0: never).
    pub thread_update_secs: u64,
    /// An OomKiller alert resolves after this long without another kill.
    pub oom_resolve_secs: u64,
}

/// What `/mem verify` needs beyond the runbook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySettings {
    /// The application's health URL ("Application responsive"); empty
    /// leaves that item unknown.
    pub health_url: String,
}

/// The bot's HTTP endpoints: Alertmanager intake, /metrics, health.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// host:port to listen on; empty turns the endpoints off.
    pub listen: String,
    /// Unauthenticated refusals are audited in aggregate this often.
    pub refusal_audit_secs: u64,
}

/// The machine's hostname, as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        I(i64),
        U(u64),
        F(f64),
    }
    Ok(match Text::deserialize(d)? {
        Text::S(s) => s,
        Text::I(n) => n.to_string(),
        Text::U(n) => n.to_string(),
        Text::F(n) => n.to_string(),
    })
}

/// Where the bot lives in Discord and who may do what. IDs are Discord
/// snowflakes; 0 means "not set".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    pub guild_id: u64,
    pub incident_channel_id: u64,
    pub responder_role_ids: Vec<u64>,
    pub approver_role_ids: Vec<u64>,
    pub oncall_role_ids: Vec<u64>,
    /// Roster role → Discord user id, seeded on start.
    #[serde(default)]
    pub roster: std::collections::BTreeMap<String, u64>,
    /// Roster role → Discord role id, pinged when nobody holds the role.
    #[serde(default)]
    pub roster_role_ids: std::collections::BTreeMap<String, u64>,
}

/// Timing of the approval machinery (the rules are in the runbook).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    pub settle_secs: u64,
    pub expiry_check_secs: u64,
    /// An execution claim not renewed for this long is reconciled.
    pub lease_secs: u64,
}

/// Timing of escalation delivery (the rules are in the runbook).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSettings {
    pub tick_ms: u64,
    pub oom_grace_secs: u64,
}

/// How pages go out (who is paged and when is the runbook's), and how the
/// bot says it is blind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingSettings {
    pub tick_ms: u64,
    /// Pages also go to the person paged as a direct message.
    pub direct_messages: bool,
    pub webhook_timeout_secs: u64,
    /// A delivery is tried this many times, then failed for good.
    pub max_attempts: u32,
    pub blind_after_secs: u64,
    pub heartbeat_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookSettings {
    pub dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Which containers a command looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Containers labelled `com.docker.compose.project=<name>`.
    Project(String),
    /// Every running container on the engine.
    All,
}

impl Settings {
    /// Defaults, then `file` (which must exist when given), then the
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load_with(file, |k| std::env::var(k).ok())
    }

    /// As [`Settings::load`], with `DOCKER_HOST` and the secrets read
    /// through `var` (the `INCIDENT_BOT_*` layer is the process's own).
    pub fn load_with(
        file: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut settings = Settings::layered(file)?;
        settings.docker.host = [Some(settings.docker.host.clone()), var("DOCKER_HOST")]
            .into_iter()
            .flatten()
            .map(|h| h.trim().to_string())
            .find(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string());
        if settings.fleet.node.trim().is_empty() {
            // A host name's characters only, as `fleet.node` must be.
            settings.fleet.node = hostname()
                .chars()
                .map(
                    |c| match c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        true => c,
                        false => '-',
                    },
                )
                .take(64)
                .collect();
        }
        settings.secrets = Secrets::read(var);
        Ok(settings)
    }

    fn layered(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment
            .merge(
                Env::prefixed("INCIDENT_BOT_")
                    .split("__")
                    // INCIDENT_BOT_CONFIG names the file; it is not a key.
                    .ignore(&["config"]),
            )
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))
            .and_then(Settings::checked)
    }

    fn checked(self) -> Result<Settings, ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.docker.timeout_secs == 0 {
            return invalid("docker.timeout_secs must be at least 1");
        }
        if self.docker.max_concurrent_stats == 0 {
            return invalid("docker.max_concurrent_stats must be at least 1");
        }
        if self.fleet.enabled && self.watch.all {
            return invalid("fleet.enabled needs a watched project (watch.project), not watch.all");
        }
        if self.fleet.lease_secs < 3 {
            return invalid("fleet.lease_secs must be at least 3");
        }
        // The node's name is what `host:` takes and what every report
        // and message shows: a host name's characters only.
        if !self.fleet.node.is_empty() && !crate::core::commands::is_node_name(&self.fleet.node) {
            return invalid(
                "fleet.node must be at most 64 letters, digits, '-', '_' or '.' (a host name)",
            );
        }
        let mut names = Vec::new();
        for r in &self.fleet.remote {
            if let Some(problem) = r.problem(&self.fleet.node) {
                return invalid(&problem);
            }
            if names.contains(&&r.node) {
                return invalid(&format!("fleet.remote names node '{}' twice", r.node));
            }
            names.push(&r.node);
        }
        if !self.watch.all && self.watch.project.trim().is_empty() {
            return invalid("watch.project is empty: name a Compose project or set watch.all");
        }
        // Discord IDs are never 0 (and serenity refuses to build one).
        let d = &self.discord;
        let lists = [
            ("responder_role_ids", &d.responder_role_ids),
            ("approver_role_ids", &d.approver_role_ids),
            ("oncall_role_ids", &d.oncall_role_ids),
        ];
        for (name, ids) in lists {
            if ids.contains(&0) {
                return Err(ConfigError::Invalid(format!(
                    "discord.{name} contains 0, which is not a Discord ID"
                )));
            }
        }
        for (name, map) in [
            ("roster", &d.roster),
            ("roster_role_ids", &d.roster_role_ids),
        ] {
            if let Some((role, _)) = map.iter().find(|(_, id)| **id == 0) {
                return Err(ConfigError::Invalid(format!(
                    "discord.{name}.{role} is 0, which is not a Discord ID"
                )));
            }
        }
        Ok(self)
    }

    /// Roster keys must be roster roles some runbook declares: a typo must
    /// not leave a role silently unset.
    pub fn check_roster(&self, roles: &[String]) -> Result<(), ConfigError> {
        let d = &self.discord;
        for (name, map) in [
            ("roster", &d.roster),
            ("roster_role_ids", &d.roster_role_ids),
        ] {
            if let Some(role) = map.keys().find(|r| !roles.contains(r)) {
                return Err(ConfigError::Invalid(format!(
                    "discord.{name}.{role} is not a roster role of any runbook (known: {})",
                    roles.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// What `serve` needs beyond the defaults; one sentence when missing.
    pub fn check_discord(&self) -> Result<(), ConfigError> {
        let missing = |key: &str| {
            Err(ConfigError::Invalid(format!(
                "discord.{key} is not set: give it in the config file or as INCIDENT_BOT_DISCORD__{}",
                key.to_uppercase()
            )))
        };
        if self.discord.guild_id == 0 {
            return missing("guild_id");
        }
        if self.discord.incident_channel_id == 0 {
            return missing("incident_channel_id");
        }
        Ok(())
    }

    /// The engine endpoint: the config's `docker.host`, else `DOCKER_HOST`,
    /// else the default socket (resolved when the settings loaded).
    pub fn docker_endpoint(&self) -> &str {
        &self.docker.host
    }

    /// The cgroup root to read memory under, unless turned off.
    pub fn cgroup_root(&self) -> Option<std::path::PathBuf> {
        let root = self.watch.cgroup_root.trim();
        (!root.is_empty()).then(|| std::path::PathBuf::from(root))
    }

    pub fn scope(&self) -> Scope {
        if self.watch.all {
            Scope::All
        } else {
            Scope::Project(self.watch.project.clone())
        }
    }
}

#[cfg(test)]
mod tests;
