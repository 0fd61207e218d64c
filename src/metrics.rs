//! The bot's Prometheus metrics: a small hand-written registry rendered in
//! the text exposition format, version 0.0.4 (no client crate: a few
//! counters, one histogram and some gauges do not need one).
//!
//! It is one process-wide registry ([`global`]) because every layer reports
//! into it (chat counts commands, the Docker and Postgres adapters count
//! errors, the alert paths count alerts, approvals and escalations) and the
//! HTTP endpoint renders it; a handle threaded through every layer would buy
//! nothing, since a process has one set of counters to scrape.
//! [`Metrics::new`] still exists so that tests get a registry of their own.
//!
//! Only counters and the histogram are stored. Gauges (memory per container,
//! alerts firing, watcher and database up) are computed by the caller at
//! scrape time and passed in a [`Live`], so a scrape never shows a stale copy.
//!
//! Output is deterministic (families in a fixed order, series sorted by label
//! values), so the same state always renders to the same bytes.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// Longer label values are cut: a runaway value (a container name, an alert
/// name from Alertmanager) must not bloat every scrape.
pub const MAX_LABEL_CHARS: usize = 128;

/// Upper bounds of the command-duration buckets, in seconds. Discord wants
/// an answer within 3 s, so they are dense below that and sparse above.
const DURATION_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
const DURATION: &str = "incident_bot_command_duration_seconds";
const DURATION_HELP: &str = "Time to handle a slash command, by command.";

/// Counter families in render order: name, help, label names. The indexes
/// below name the rows, so a family's name and labels are written once.
#[rustfmt::skip]
const COUNTERS: [(&str, &str, &[&str]); 11] = [
    ("incident_bot_commands_total", "Slash commands handled.", &["command", "outcome"]),
    ("incident_bot_docker_errors_total", "Failed Docker Engine requests.", &["operation"]),
    ("incident_bot_postgres_errors_total", "Failed Postgres operations.", &["operation"]),
    ("incident_bot_alerts_total", "Alert notifications.", &["alert", "status", "source"]),
    ("incident_bot_alertmanager_requests_total", "Alertmanager webhook requests.", &["result"]),
    ("incident_bot_approvals_total", "Approvals, by what became of them.", &["result"]),
    ("incident_bot_escalations_total", "Escalations, fired or failed.", &["result"]),
    ("incident_bot_memory_reads_total", "Container memory reads by the watcher, by how (kernel cgroup files or the engine's stats API).", &["via"]),
    ("incident_bot_pages_total", "Pages planned (each goes out by one or more media).", &["result"]),
    ("incident_bot_page_deliveries_total", "Page deliveries by medium (channel, dm, webhook) and result.", &["medium", "result"]),
    ("incident_bot_heartbeats_total", "Calls of the outgoing heartbeat URL, by result.", &["result"]),
];
const COMMANDS: usize = 0;
const DOCKER_ERRORS: usize = 1;
const POSTGRES_ERRORS: usize = 2;
const ALERTS: usize = 3;
const ALERTMANAGER_REQUESTS: usize = 4;
const APPROVALS: usize = 5;
const ESCALATIONS: usize = 6;
const MEMORY_READS: usize = 7;
const PAGES: usize = 8;
const PAGE_DELIVERIES: usize = 9;
const HEARTBEATS: usize = 10;

/// What the bot can fail to see, rendered as incident_bot_blind{what}.
const BLIND: [&str; 3] = ["engine", "watcher", "database"];

/// The registry every layer reports into; the HTTP endpoint renders it.
pub fn global() -> &'static Metrics {
    static GLOBAL: OnceLock<Metrics> = OnceLock::new();
    GLOBAL.get_or_init(Metrics::new)
}

/// Counters and the command-duration histogram since start. Thread-safe:
/// each family has its own `Mutex`, held only to bump or format it.
#[derive(Default)]
pub struct Metrics {
    /// One map per row of `COUNTERS`, keyed by the label values in that
    /// row's order; a BTreeMap yields the sorted output order for free.
    counters: [Mutex<BTreeMap<Vec<String>, u64>>; COUNTERS.len()],
    /// Keyed by command.
    durations: Mutex<BTreeMap<String, Histogram>>,
    /// What the bot has said it cannot see (`BLIND` order).
    blind: Mutex<[bool; BLIND.len()]>,
}

/// Per-bucket counts, not cumulative: cumulated at render time.
#[derive(Default)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Gauges computed by the caller at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub containers: Vec<ContainerGauge>,
    /// incident_bot_alerts_firing{alert}
    pub alerts_firing: Vec<(String, u64)>,
    /// incident_bot_watcher_up (1/0), incident_bot_database_up (1/0)
    pub watcher_up: bool,
    pub database_up: bool,
    /// A fleet's nodes as the database knows them (empty outside a fleet).
    pub fleet: Vec<NodeGauge>,
}

/// One node of a fleet: its role and how far behind its data is.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeGauge {
    pub node: String,
    /// `gateway`, `standby` or `http`.
    pub role: String,
    /// Seconds since its last publish, and since its last fresh data.
    pub silent_seconds: f64,
    pub lag_seconds: f64,
}

/// One watched container's memory, as last sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerGauge {
    pub name: String,
    /// Label `service=""` when `None`.
    pub service: Option<String>,
    /// incident_bot_container_memory_usage_bytes{container,service}
    pub usage_bytes: u64,
    /// incident_bot_container_memory_limit_bytes{container,service}, only
    /// emitted when `Some`: no limit means no line, not a made-up number.
    pub limit_bytes: Option<u64>,
    /// incident_bot_container_sample_age_seconds{container,service}
    pub sample_age_seconds: f64,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// A slash command handled: counter incident_bot_commands_total{command,outcome}
    /// and histogram incident_bot_command_duration_seconds{command}.
    pub fn command(&self, command: &str, outcome: &str, elapsed: Duration) {
        self.inc(COMMANDS, &[command, outcome]);
        let secs = elapsed.as_secs_f64();
        let mut durations = lock(&self.durations);
        let h = durations.entry(bound(command)).or_default();
        // `le` bounds are inclusive; above the last one only +Inf counts it.
        if let Some(i) = DURATION_BUCKETS.iter().position(|&b| secs <= b) {
            h.buckets[i] += 1;
        }
        h.sum += secs;
        h.count += 1;
    }

    /// incident_bot_docker_errors_total{operation}
    pub fn docker_error(&self, operation: &str) {
        self.inc(DOCKER_ERRORS, &[operation]);
    }

    /// incident_bot_memory_reads_total{via}: a sampling round's rows.
    pub fn memory_reads(&self, kernel: u64, stats_api: u64) {
        for (via, n) in [("kernel", kernel), ("stats_api", stats_api)] {
            if n > 0 {
                *lock(&self.counters[MEMORY_READS])
                    .entry(vec![via.to_string()])
                    .or_insert(0) += n;
            }
        }
    }

    /// incident_bot_postgres_errors_total{operation}
    pub fn postgres_error(&self, operation: &str) {
        self.inc(POSTGRES_ERRORS, &[operation]);
    }

    /// incident_bot_alerts_total{alert,status,source}
    pub fn alert(&self, alert: &str, status: &str, source: &str) {
        self.inc(ALERTS, &[alert, status, source]);
    }

    /// incident_bot_alertmanager_requests_total{result}
    pub fn alertmanager_request(&self, result: &str) {
        self.inc(ALERTMANAGER_REQUESTS, &[result]);
    }

    /// incident_bot_approvals_total{result}
    pub fn approval(&self, result: &str) {
        self.inc(APPROVALS, &[result]);
    }

    /// incident_bot_escalations_total{result}
    pub fn escalation(&self, result: &str) {
        self.inc(ESCALATIONS, &[result]);
    }

    /// incident_bot_pages_total{result}
    pub fn page(&self, result: &str) {
        self.inc(PAGES, &[result]);
    }

    /// incident_bot_page_deliveries_total{medium,result}
    pub fn page_delivery(&self, medium: &str, result: &str) {
        self.inc(PAGE_DELIVERIES, &[medium, result]);
    }

    /// incident_bot_heartbeats_total{result}
    pub fn heartbeat(&self, result: &str) {
        self.inc(HEARTBEATS, &[result]);
    }

    /// incident_bot_blind{what}: 1 while the bot cannot see `what`.
    pub fn blind(&self, what: &str, blind: bool) {
        if let Some(i) = BLIND.iter().position(|w| *w == what) {
            lock(&self.blind)[i] = blind;
        }
    }

    fn inc(&self, family: usize, values: &[&str]) {
        let key = values.iter().map(|v| bound(v)).collect();
        *lock(&self.counters[family]).entry(key).or_insert(0) += 1;
    }

    /// Renders every family, with HELP and TYPE even before its first sample
    /// (so dashboards and alert rules see it exist from the first scrape),
    /// plus the gauges in `live`.
    pub fn render(&self, live: &Live) -> String {
        let mut out = String::new();
        for ((name, help, labels), series) in COUNTERS.iter().zip(&self.counters) {
            header(&mut out, name, help, "counter");
            for (values, n) in lock(series).iter() {
                sample(&mut out, name, labels, values, n);
            }
        }

        header(&mut out, DURATION, DURATION_HELP, "histogram");
        let [bucket, sum, count] = ["bucket", "sum", "count"].map(|s| format!("{DURATION}_{s}"));
        for (command, h) in lock(&self.durations).iter() {
            let mut cumulative = 0;
            for (le, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let values = [command.as_str(), &float(*le)];
                sample(&mut out, &bucket, &["command", "le"], &values, cumulative);
            }
            // +Inf is by definition everything: the same number as _count.
            let values = [command.as_str(), "+Inf"];
            sample(&mut out, &bucket, &["command", "le"], &values, h.count);
            sample(&mut out, &sum, &["command"], &[command], float(h.sum));
            sample(&mut out, &count, &["command"], &[command], h.count);
        }

        render_live(&mut out, live);
        let name = "incident_bot_blind";
        let help = "1 while the bot cannot see this (engine, watcher, database) for paging.blind_after_secs.";
        header(&mut out, name, help, "gauge");
        let blind = *lock(&self.blind);
        for (what, b) in BLIND.iter().zip(blind) {
            sample(&mut out, name, &["what"], &[what], u64::from(b));
        }
        out
    }
}

fn render_live(out: &mut String, live: &Live) {
    // Sorted, and without duplicates of the label values as exposed (after
    // the cut): a series written twice makes Prometheus reject the scrape.
    let key = |c: &ContainerGauge| [bound(&c.name), bound(c.service.as_deref().unwrap_or(""))];
    let mut containers: Vec<_> = live.containers.iter().map(|c| (key(c), c)).collect();
    containers.sort_by(|a, b| a.0.cmp(&b.0));
    containers.dedup_by(|a, b| a.0 == b.0);
    type Value = fn(&ContainerGauge) -> Option<String>;
    #[rustfmt::skip]
    let gauges: [(&str, &str, Value); 3] = [
        ("incident_bot_container_memory_usage_bytes", "Memory usage at the last sample.",
            |c| Some(c.usage_bytes.to_string())),
        ("incident_bot_container_memory_limit_bytes", "Memory limit, if the container has one.",
            |c| c.limit_bytes.map(|l| l.to_string())),
        ("incident_bot_container_sample_age_seconds", "Age of the last memory sample.",
            |c| Some(float(c.sample_age_seconds))),
    ];
    for (name, help, value) in gauges {
        header(out, name, help, "gauge");
        for (values, c) in &containers {
            if let Some(v) = value(c) {
                sample(out, name, &["container", "service"], values, v);
            }
        }
    }

    // The same alert twice (after the cut) is added up, not written twice.
    let mut firing: BTreeMap<String, u64> = BTreeMap::new();
    for (alert, n) in &live.alerts_firing {
        *firing.entry(bound(alert)).or_insert(0) += n;
    }
    let name = "incident_bot_alerts_firing";
    header(out, name, "Alerts currently firing, by alert.", "gauge");
    for (alert, n) in &firing {
        sample(out, name, &["alert"], &[alert], n);
    }

    if !live.fleet.is_empty() {
        type Of = fn(&NodeGauge) -> f64;
        #[rustfmt::skip]
        let gauges: [(&str, &str, Of); 2] = [
            ("incident_bot_fleet_node_silent_seconds", "Seconds since the node last published, by node and role.",
                |n| n.silent_seconds),
            ("incident_bot_fleet_node_lag_seconds", "Age of the node's freshest published data, by node and role.",
                |n| n.lag_seconds),
        ];
        for (name, help, value) in gauges {
            header(out, name, help, "gauge");
            for n in &live.fleet {
                let labels = [bound(&n.node), bound(&n.role)];
                sample(out, name, &["node", "role"], &labels, float(value(n)));
            }
        }
    }

    #[rustfmt::skip]
    let scalars = [
        ("incident_bot_watched_containers", "Containers watched.", live.containers.len() as u64),
        ("incident_bot_watcher_up", "1 if the memory watcher runs.", u64::from(live.watcher_up)),
        ("incident_bot_database_up", "1 if Postgres answers.", u64::from(live.database_up)),
    ];
    for (name, help, value) in scalars {
        header(out, name, help, "gauge");
        sample::<&str>(out, name, &[], &[], value);
    }
}

/// A poisoned lock only means a thread panicked mid-increment; the numbers
/// are still usable, and metrics must never take the bot down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Cuts a label value to [`MAX_LABEL_CHARS`] characters (chars, not bytes,
/// so a multi-byte character is never split).
fn bound(value: &str) -> String {
    match value.char_indices().nth(MAX_LABEL_CHARS) {
        Some((at, _)) => value[..at].to_owned(),
        None => value.to_owned(),
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    // Help strings are constants without `\` or newlines: nothing to escape.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample<V: AsRef<str>>(
    out: &mut String,
    name: &str,
    labels: &[&str],
    values: &[V],
    value: impl Display,
) {
    out.push_str(name);
    for (i, (label, v)) in labels.iter().zip(values).enumerate() {
        let sep = if i == 0 { '{' } else { ',' };
        let _ = write!(out, "{sep}{label}=\"{}\"", escape(v.as_ref()));
    }
    let close = if labels.is_empty() { "" } else { "}" };
    let _ = writeln!(out, "{close} {value}");
}

/// Label-value escaping of the exposition format: `\`, `"` and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

/// `Display` for f64 is already parseable by Prometheus (`0.05`, `1`,
/// `2.5`, never an exponent); only the non-finite values need its spelling.
fn float(v: f64) -> String {
    match v {
        _ if v.is_nan() => "NaN".into(),
        f64::INFINITY => "+Inf".into(),
        f64::NEG_INFINITY => "-Inf".into(),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests;
