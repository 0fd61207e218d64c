//! The closed sets of things a runbook can ask for: checks (read-only probes
//! with the thresholds of an Expected line), action effects (state-changing,
//! approval-gated) and alert conditions.
//!
//! These are enums on purpose: a runbook picks a kind and fills in numbers; it
//! can never name a program to run, except the argv vectors of declared
//! profilers and worker commands, which come from the file, not from chat.

use super::numbers::{positive, with_numeric_overrides, within};
use serde::{Deserialize, Serialize};

/// A read-only check run by a diagnosis step or a verification item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// Memory of every container of the project, against per-container and
    /// total bars (runbook step 1).
    ContainerMemory(ContainerMemoryCheck),
    /// Least-squares memory trend over a window (runbook step 2).
    MemoryTrend {
        window_minutes: u32,
        max_growth_mib_per_hour: f64,
        min_samples: u32,
    },
    /// A profiler declared per service, run inside its container (step 3).
    ExecProfile {
        timeout_secs: u32,
        max_output_kib: u32,
        profilers: Vec<Profiler>,
    },
    /// Connections of the monitored application's PostgreSQL (step 4).
    PgConnections {
        max_connections: u32,
        idle_in_transaction_warn_secs: u32,
    },
    /// OOM kills and OOM messages in container logs.
    OomScan { log_patterns: Vec<String> },
    /// An HTTP GET of the application's health URL (from configuration).
    HttpProbe {
        expected_status: u16,
        max_latency_ms: u32,
    },
}

/// Thresholds of the "current memory usage" check. A bar left out is not
/// judged (a verification item may only care about the total).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerMemoryCheck {
    /// A container at or above this many MiB fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_max_mib: Option<f64>,
    /// The containers together at or above this percent of host memory fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_max_percent: Option<f64>,
    /// At this fraction of a bar, a warning.
    #[serde(default = "default_warn_ratio")]
    pub warn_ratio: f64,
    /// A container at or above this percent of its own limit, a warning.
    #[serde(default = "default_limit_warn")]
    pub limit_warn_percent: f64,
}

fn default_warn_ratio() -> f64 {
    0.8
}

fn default_limit_warn() -> f64 {
    90.0
}

/// A profiling command for one service, as an argv vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiler {
    pub service: String,
    pub command: Vec<String>,
}

/// What an approved action does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionEffect {
    /// Restart one service's container (only services listed here).
    RestartService {
        services: Vec<String>,
        stop_timeout_secs: u32,
        rate_limit_per_hour: u32,
    },
    /// `pg_terminate_backend` on idle-in-transaction sessions older than a
    /// typed age; never the bot's own session or a superuser's.
    CloseIdleConnections {
        default_older_than_minutes: u32,
        include_idle: bool,
    },
    /// Recreate a service's container with the same configuration and this
    /// command; `{name}` placeholders are filled from typed, range-checked
    /// parameters only.
    RecreateWithCommand {
        service: String,
        command: Vec<String>,
        params: Vec<ActionParam>,
    },
}

/// A typed integer parameter of an action.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionParam {
    pub name: String,
    pub min: i64,
    pub max: i64,
    pub default: i64,
}

/// When the bot raises an alert by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AlertCondition {
    /// Like Prometheus's `for:`: the bar must be crossed for `for_secs`.
    HighMemory {
        process_max_mib: f64,
        total_max_percent: f64,
        for_secs: u32,
    },
    /// An `oom` event from the engine for a container of the project.
    OomKill,
    /// A container's memory, fitted over `window_minutes`, will reach its
    /// limit (or the per-container bar) within `horizon_minutes`, with a
    /// fit of at least `min_r2`: an incident before the OOM kill.
    Forecast {
        horizon_minutes: u32,
        window_minutes: u32,
        min_samples: u32,
        min_r2: f64,
        /// The suggested limit: the peak seen plus this much.
        limit_margin_percent: u32,
    },
}

impl Check {
    /// The kind's name as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::ContainerMemory(_) => "container_memory",
            Check::MemoryTrend { .. } => "memory_trend",
            Check::ExecProfile { .. } => "exec_profile",
            Check::PgConnections { .. } => "pg_connections",
            Check::OomScan { .. } => "oom_scan",
            Check::HttpProbe { .. } => "http_probe",
        }
    }

    /// Every threshold that is out of range, as sentences.
    pub fn threshold_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Check::ContainerMemory(c) => {
                if let Some(v) = c.process_max_mib {
                    out.extend(positive("process_max_mib", v));
                }
                if let Some(v) = c.total_max_percent {
                    out.extend(within("total_max_percent", v, 100.0));
                }
                if c.process_max_mib.is_none() && c.total_max_percent.is_none() {
                    out.push(
                        "container_memory needs process_max_mib, total_max_percent or both".into(),
                    );
                }
                out.extend(within("warn_ratio", c.warn_ratio, 1.0));
                out.extend(within("limit_warn_percent", c.limit_warn_percent, 100.0));
            }
            Check::MemoryTrend {
                window_minutes,
                max_growth_mib_per_hour,
                min_samples,
            } => {
                out.extend(positive("window_minutes", f64::from(*window_minutes)));
                out.extend(positive(
                    "max_growth_mib_per_hour",
                    *max_growth_mib_per_hour,
                ));
                if *min_samples < 2 {
                    out.push(format!(
                        "min_samples must be at least 2 to fit a line, not {min_samples}"
                    ));
                }
            }
            Check::ExecProfile {
                timeout_secs,
                max_output_kib,
                profilers,
            } => {
                out.extend(positive("timeout_secs", f64::from(*timeout_secs)));
                out.extend(positive("max_output_kib", f64::from(*max_output_kib)));
                out.extend(profiler_problems(profilers));
            }
            Check::PgConnections {
                max_connections,
                idle_in_transaction_warn_secs,
            } => {
                out.extend(positive("max_connections", f64::from(*max_connections)));
                out.extend(positive(
                    "idle_in_transaction_warn_secs",
                    f64::from(*idle_in_transaction_warn_secs),
                ));
            }
            Check::OomScan { log_patterns } => {
                if log_patterns.iter().any(|p| p.trim().is_empty()) {
                    out.push("log_patterns must not contain an empty pattern".into());
                }
            }
            Check::HttpProbe {
                expected_status,
                max_latency_ms,
            } => {
                if !(100..=599).contains(expected_status) {
                    out.push(format!(
                        "expected_status must be an HTTP status (100-599), not {expected_status}"
                    ));
                }
                out.extend(positive("max_latency_ms", f64::from(*max_latency_ms)));
            }
        }
        out
    }

    /// This check with some keys replaced (configuration overrides). Keys
    /// must exist in the check's kind; `kind` itself cannot be changed.
    pub fn with_overrides(&self, table: &toml::Table) -> Result<Check, String> {
        with_numeric_overrides(self, table)
    }
}

/// Each profiler needs a command, and a service has at most one.
fn profiler_problems(profilers: &[Profiler]) -> Vec<String> {
    let mut out = Vec::new();
    for p in profilers {
        if p.command.first().is_none_or(|c| c.trim().is_empty()) {
            out.push(format!("profiler for '{}' has an empty command", p.service));
        }
    }
    let mut services: Vec<_> = profilers.iter().map(|p| &p.service).collect();
    services.sort();
    if let Some(w) = services.windows(2).find(|w| w[0] == w[1]) {
        out.push(format!("two profilers for service '{}'", w[0]));
    }
    out
}

impl AlertCondition {
    /// This condition with some thresholds replaced, as for checks.
    pub fn with_overrides(&self, table: &toml::Table) -> Result<AlertCondition, String> {
        with_numeric_overrides(self, table)
    }
}

impl ActionEffect {
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            ActionEffect::RestartService {
                services,
                stop_timeout_secs: _,
                rate_limit_per_hour,
            } => {
                if services.is_empty() {
                    out.push("restart_service needs at least one service".into());
                }
                if *rate_limit_per_hour == 0 {
                    out.push("rate_limit_per_hour must be at least 1".into());
                }
            }
            ActionEffect::CloseIdleConnections {
                default_older_than_minutes,
                ..
            } => {
                if *default_older_than_minutes == 0 {
                    out.push("default_older_than_minutes must be at least 1".into());
                }
            }
            ActionEffect::RecreateWithCommand {
                service,
                command,
                params,
            } => {
                if service.trim().is_empty() || command.is_empty() {
                    out.push("recreate_with_command needs a service and a command".into());
                }
                if params.len() > 20 {
                    out.push("at most 20 parameters (Discord allows 25 options)".into());
                }
                for p in params {
                    // Parameters become slash-command options: Discord's
                    // name rule, no clash with the options the bot adds,
                    // and non-negative bounds (what the registration takes).
                    if !super::validate::is_command_name(&p.name) {
                        out.push(format!(
                            "parameter '{}' must be 1-32 characters of lowercase letters, digits, '-' or '_'",
                            p.name
                        ));
                    }
                    if ["reason", "service"].contains(&p.name.as_str()) {
                        out.push(format!(
                            "parameter '{}' clashes with a built-in option",
                            p.name
                        ));
                    }
                    if params.iter().filter(|q| q.name == p.name).count() > 1 {
                        out.push(format!("parameter '{}' is declared twice", p.name));
                    }
                    if p.min < 0 {
                        out.push(format!("parameter '{}' must have min >= 0", p.name));
                    }
                    if !(p.min <= p.default && p.default <= p.max) {
                        out.push(format!(
                            "parameter '{}' needs min <= default <= max ({} <= {} <= {})",
                            p.name, p.min, p.default, p.max
                        ));
                    }
                }
                // Every placeholder must be a declared parameter, so nothing
                // else can ever be spliced into the command.
                for arg in command {
                    for name in placeholders(arg) {
                        if !params.iter().any(|p| p.name == name) {
                            out.push(format!(
                                "command placeholder {{{name}}} is not a declared parameter"
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

impl AlertCondition {
    pub fn problems(&self) -> Vec<String> {
        match self {
            AlertCondition::HighMemory {
                process_max_mib,
                total_max_percent,
                ..
            } => positive("process_max_mib", *process_max_mib)
                .into_iter()
                .chain(within("total_max_percent", *total_max_percent, 100.0))
                .collect(),
            AlertCondition::OomKill => Vec::new(),
            AlertCondition::Forecast {
                horizon_minutes,
                window_minutes,
                min_samples,
                min_r2,
                limit_margin_percent,
            } => [
                (!(1..=10080).contains(horizon_minutes))
                    .then(|| "horizon_minutes must be 1-10080".to_string()),
                (!(1..=1440).contains(window_minutes))
                    .then(|| "window_minutes must be 1-1440".to_string()),
                (*min_samples < 3).then(|| "min_samples must be at least 3".to_string()),
                within("min_r2", *min_r2, 1.0),
                (*limit_margin_percent > 200)
                    .then(|| "limit_margin_percent must be at most 200".to_string()),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }
    }
}

/// The `{name}` placeholders in one argument.
pub(super) fn placeholders(arg: &str) -> Vec<&str> {
    arg.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}
