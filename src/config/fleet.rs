//! The `[fleet]` settings: this node's part in a fleet of bots on one
//! database, and the engines it watches from afar.

use super::string_or_number;
use serde::Deserialize;

/// One bot node per Docker host, coordinated through the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSettings {
    pub enabled: bool,
    /// This node's name (its host's). Empty in the files means the
    /// machine's hostname; resolved when the settings load.
    #[serde(deserialize_with = "string_or_number")]
    pub node: String,
    pub publish_ms: u64,
    pub blind_after_secs: u64,
    pub lease_secs: u64,
    pub interactions: Interactions,
    pub job_claim_secs: u64,
    /// Engines this node watches for hosts where no bot can run.
    #[serde(default)]
    pub remote: Vec<RemoteEngine>,
}

/// An engine watched from afar: its host appears in the fleet as node
/// `node`, read through the stats API (reports, history, blind spots; no
/// actions and no alerts, which need a bot beside the engine).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteEngine {
    pub node: String,
    /// `tcp://host:2376` (with `tls_dir`), or a forwarded socket:
    /// `unix:///run/ssh-db-1.sock`, `tcp://127.0.0.1:23750`.
    pub host: String,
    /// A directory with `ca.pem`, `cert.pem` and `key.pem` (as `docker
    /// --tlsverify` takes them). Empty: no TLS (a socket or loopback only).
    #[serde(default)]
    pub tls_dir: String,
}

impl RemoteEngine {
    /// Why this remote cannot be watched as configured, if it cannot.
    pub(super) fn problem(&self, own: &str) -> Option<String> {
        let node = &self.node;
        if !crate::core::commands::is_node_name(node) || node == own {
            return Some(format!(
                "fleet.remote node '{node}' must be a host name other than this node's"
            ));
        }
        let host = self.host.trim();
        let loopback = ["tcp://127.", "tcp://localhost:", "tcp://[::1]:"]
            .iter()
            .any(|p| host.starts_with(p));
        match host.split_once("://").map(|(scheme, _)| scheme) {
            Some("unix") => None,
            Some("tcp") if !self.tls_dir.trim().is_empty() || loopback => None,
            Some("tcp") => Some(format!(
                "fleet.remote '{node}': {host} needs tls_dir (the Docker socket is root on its host; plain tcp only on loopback, e.g. an SSH tunnel)"
            )),
            _ => Some(format!(
                "fleet.remote '{node}': host must be unix:///… or tcp://…, not {host}"
            )),
        }
    }
}

/// How interactions reach the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interactions {
    /// A gateway session (in a fleet, the lease holder's).
    Gateway,
    /// Discord's interactions endpoint: signed HTTP POSTs to every node.
    Http,
}
