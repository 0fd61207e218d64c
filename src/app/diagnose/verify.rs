//! The runbook's verification checklist, every item checked live: memory
//! against the bars (the live cache or the engine; in a fleet every host),
//! OOM kills since the incident began (`State.OOMKilled`, the engine's
//! `oom` events the watcher saw, the runbook's log patterns in each
//! container's logs, and in a fleet the kills the other hosts' nodes
//! raised), the memory trend (the watcher's history), and the
//! application's health URL.
//!
//! Orchestration: observations through the adapters, judgements from the
//! core (`core::verification`, `core::diagnosis`, `core::trend`).

use super::{DiagnoseError, Probes};
use crate::config::Scope;
use crate::core::diagnosis::{judge_memory, Finding, Outcome};
use crate::core::runbook::{Check, Runbook, Step};
use crate::core::trend::{judge_trend, TrendRule};
use crate::core::verification::{
    judge_http, judge_oom, scan_logs, ItemResult, OomSign, Probe, VerifyReport,
};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Log lines read per container for the OOM scan.
const LOG_TAIL: usize = 5000;

/// Checks every verification item of `rb`; OOM signs count from `since`
/// (when the incident opened).
pub async fn verify(
    p: &Probes<'_>,
    rb: &Runbook,
    since: OffsetDateTime,
) -> Result<VerifyReport, DiagnoseError> {
    let mut items = Vec::new();
    for item in rb.verification.iter().map(|v| v.get_ref()) {
        // A step-shaped view of the item, for the judges that take one.
        let step = Step {
            id: item.id.clone(),
            title: item.text.clone(),
            expected: item.text.clone(),
            if_different: item.text.clone(),
            shell: vec![],
            check: item.check.clone(),
        };
        let (outcome, observed) = match &item.check {
            Check::ContainerMemory(check) => match p.fleet {
                // In a fleet, every host, each judged on its own.
                Some(store) => {
                    let input = super::StepInput::default();
                    let (_, _, found) =
                        super::fleet::fleet_memory(p, store, &step, check, &input).await?;
                    match found {
                        Finding::ContainerMemory(r) => (r.verdict.outcome, r.verdict.observed),
                        _ => unreachable!("fleet_memory judges memory"),
                    }
                }
                None => {
                    let (snapshot, _, _) = super::probe::memory_now(p).await?;
                    let v = judge_memory(&step, check, &snapshot).verdict;
                    (v.outcome, v.observed)
                }
            },
            Check::OomScan { log_patterns } => oom_scan(p, log_patterns, since).await?,
            Check::MemoryTrend {
                window_minutes,
                max_growth_mib_per_hour,
                min_samples,
            } => {
                let rule = TrendRule {
                    window_secs: u64::from(*window_minutes) * 60,
                    max_growth_mib_per_hour: *max_growth_mib_per_hour,
                    min_samples: *min_samples,
                    bar_mib: None,
                };
                trend(p, &step, &rule).await
            }
            Check::HttpProbe {
                expected_status,
                max_latency_ms,
            } => {
                let url = p.settings.verify.health_url.trim();
                let probe = http_probe(url, *max_latency_ms).await;
                judge_http(&probe, url, *expected_status, *max_latency_ms)
            }
            other => (
                Outcome::Unknown,
                format!(
                    "a {} check is not part of verification in this version",
                    other.kind()
                ),
            ),
        };
        items.push(ItemResult {
            id: item.id.clone(),
            text: item.text.clone(),
            outcome,
            observed,
        });
    }
    Ok(VerifyReport::new(items))
}

/// "Memory usage stable over time", from the watcher's history.
async fn trend(p: &Probes<'_>, step: &Step, rule: &TrendRule) -> (Outcome, String) {
    let Some(w) = p.watcher else {
        return (
            Outcome::Unknown,
            "no live history here (run it from Discord)".into(),
        );
    };
    let now = OffsetDateTime::now_utc();
    let histories = w
        .history(None, now - time::Duration::seconds(rule.window_secs as i64))
        .await;
    let v = judge_trend(step, rule, &histories, now).verdict;
    let offenders: Vec<String> = v
        .offenders
        .iter()
        .map(|o| format!("{}: {}", o.name, o.reason))
        .collect();
    let observed = if offenders.is_empty() {
        v.observed
    } else {
        offenders.join("; ")
    };
    (v.outcome, observed)
}

/// OOM signs in every container of the scope (stopped ones too).
async fn oom_scan(
    p: &Probes<'_>,
    patterns: &[String],
    since: OffsetDateTime,
) -> Result<(Outcome, String), DiagnoseError> {
    let engine = p.engine;
    let containers = engine.list_all(p.scope).await?;
    let mut signs = Vec::new();
    for c in &containers {
        if let Some(details) = engine.inspect(&c.id).await? {
            if details.oom_killed {
                signs.push(OomSign::Killed {
                    container: c.name.clone(),
                });
            }
        }
        let lines = engine
            .logs_since(&c.id, since.unix_timestamp(), LOG_TAIL)
            .await?;
        for (pattern, count, first) in scan_logs(patterns, &lines) {
            signs.push(OomSign::Log {
                container: c.name.clone(),
                pattern,
                lines: count,
                first,
            });
        }
    }
    if let Some(w) = p.watcher {
        for name in w.ooms_since(since) {
            let known = signs
                .iter()
                .any(|s| matches!(s, OomSign::Killed { container } if *container == name));
            if !known {
                signs.push(OomSign::Event { container: name });
            }
        }
    }
    // In a fleet, the other hosts' kills as their nodes raised them.
    if let Some(store) = p.fleet {
        let own = p.settings.fleet.node.as_str();
        match store.fleet_ooms_since(since).await {
            Ok(kills) => signs.extend(kills.into_iter().filter(|(host, _)| host != own).map(
                |(host, key)| OomSign::Event {
                    container: format!("{host} {key}"),
                },
            )),
            Err(e) => {
                tracing::warn!(error = %crate::cause_chain(&e), "the other hosts' OOM kills could not be read");
            }
        }
    }
    if let Scope::All = p.scope {
        tracing::debug!(
            containers = containers.len(),
            "OOM scan over every container"
        );
    }
    Ok(judge_oom(&signs, containers.len()))
}

/// GETs the health URL; the timeout is twice the latency bar (a slower
/// answer fails either way).
async fn http_probe(url: &str, max_latency_ms: u32) -> Probe {
    if url.is_empty() {
        return Probe::NotConfigured;
    }
    let client = match reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_millis(
            u64::from(max_latency_ms).max(500) * 2,
        ))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Probe::Failed {
                reason: e.to_string(),
            }
        }
    };
    let started = Instant::now();
    match client.get(url).send().await {
        Ok(r) => Probe::Answered {
            status: r.status().as_u16(),
            latency_ms: started.elapsed().as_millis() as u64,
        },
        Err(e) => Probe::Failed {
            reason: if e.is_timeout() {
                "no answer in time".into()
            } else {
                crate::cause_chain(&e)
                    .rsplit(": ")
                    .next()
                    .unwrap_or("unreachable")
                    .to_string()
            },
        },
    }
}
