//! The probes of the runbook's diagnosis steps, one per check: each takes
//! its observation from the adapter that owns it (the live watcher, the
//! engine, the monitored database) and has the core judge it.

use super::{DiagnoseError, Probes, StepInput};
use crate::appdb::AppDb;
use crate::config::Scope;
use crate::core::connections::{judge_connections, ConnectionRule};
use crate::core::diagnosis::Reader;
use crate::core::diagnosis::{judge_memory, Finding, Source};
use crate::core::memory::MemorySnapshot;
use crate::core::profile::{judge_profile, ProfileRun};
use crate::core::runbook::{Check, ContainerMemoryCheck, Profiler, Runbook, Step};
use crate::core::trend::{judge_trend, TrendRule};
use crate::docker::DockerError;
use crate::watch::sampler::{Sampler, Via};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

/// What a probe found: where it looked, how fresh, and the finding.
pub(super) type Found = (String, Source, Finding);

/// Step 3: the profiler the runbook declares for the service, run inside
/// its container (only the runbook's own argv ever runs; the service picks
/// which).
pub(super) async fn profile(
    p: &Probes<'_>,
    step: &Step,
    input: &StepInput,
    profilers: &[Profiler],
    timeout_secs: u32,
    max_output_kib: u32,
) -> Result<Found, DiagnoseError> {
    let Scope::Project(_) = p.scope else {
        return Err(DiagnoseError::NeedsProject);
    };
    let service = input.service.clone().unwrap_or_default();
    let Some(profiler) = profilers.iter().find(|p| p.service == service) else {
        return Err(DiagnoseError::NoProfiler {
            service,
            declared: profilers
                .iter()
                .map(|p| p.service.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let mut listed: Vec<_> = p
        .engine
        .list(p.scope)
        .await?
        .into_iter()
        .filter(|c| c.service.as_deref() == Some(service.as_str()))
        .collect();
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    let Some(container) = listed.into_iter().next() else {
        return Err(DiagnoseError::ServiceNotRunning { service });
    };
    let out = p
        .engine
        .exec_capture(
            &container.id,
            &profiler.command,
            Duration::from_secs(u64::from(timeout_secs)),
            max_output_kib as usize * 1024,
        )
        .await?;
    let report = judge_profile(
        step,
        ProfileRun {
            service,
            container: container.name,
            argv: profiler.command.clone(),
            output: out.output,
            exit_code: out.exit_code,
            truncated: out.truncated,
            timed_out: out.timed_out,
            timeout_secs,
            max_output_kib,
        },
    );
    let endpoint = p.engine.endpoint().to_string();
    Ok((endpoint, Source::Engine, Finding::Profile(report)))
}

/// Step 4: the monitored database's sessions against the bar.
pub(super) async fn connections(
    p: &Probes<'_>,
    step: &Step,
    rule: &ConnectionRule,
) -> Result<Found, DiagnoseError> {
    let timeout = Duration::from_secs(p.settings.docker.timeout_secs);
    let db = AppDb::connect(p.app_db, timeout).await?;
    let snapshot = db.sessions().await?;
    let report = judge_connections(step, rule, &snapshot);
    Ok((
        db.location().to_string(),
        Source::AppDatabase,
        Finding::Connections(report),
    ))
}

/// Step 1: every container's memory, judged.
pub(super) async fn container_memory(
    p: &Probes<'_>,
    step: &Step,
    check: &ContainerMemoryCheck,
) -> Result<Found, DiagnoseError> {
    let endpoint = p.engine.endpoint().to_string();
    let (snapshot, source, notes) = memory_now(p).await?;
    if snapshot.containers.is_empty() {
        let running = match (p.scope, p.watcher) {
            // Only the terminal names the other projects; a chat channel
            // is never told them, so a command does not ask the engine.
            (Scope::Project(_), None) => p.engine.running_projects().await?,
            _ => BTreeMap::new(),
        };
        return Err(DiagnoseError::NoContainers {
            scope: p.scope.clone(),
            endpoint,
            running,
        });
    }
    let mut report = judge_memory(step, check, &snapshot);
    report.verdict.notes.extend(notes);
    Ok((endpoint, source, Finding::ContainerMemory(report)))
}

/// Every container's memory now, where it came from, and what a reader
/// should know about it. With the live watcher: its latest samples, never
/// a read of the engine (a stale or missing row is flagged, not waited
/// for). Without one (the terminal): one read of the cgroup files, the
/// stats API for what they do not cover, the whole bounded.
pub(super) async fn memory_now(
    p: &Probes<'_>,
) -> Result<(MemorySnapshot, Source, Vec<String>), DiagnoseError> {
    let Some(watcher) = p.watcher else {
        let limit = Duration::from_secs(p.settings.docker.timeout_secs);
        let sampler = Sampler::new(
            p.engine.clone(),
            p.settings.cgroup_root(),
            p.settings.docker.max_concurrent_stats,
        );
        // Each engine request is bounded by `limit`; the whole report by
        // twice that, because the person waiting cares about the total.
        let (snapshot, via) = match tokio::time::timeout(limit * 2, sampler.snapshot(p.scope)).await
        {
            Ok(read) => read?,
            Err(_) => {
                return Err(DiagnoseError::Docker(DockerError::Timeout {
                    endpoint: p.engine.endpoint().to_string(),
                    secs: limit.as_secs() * 2,
                }))
            }
        };
        let source = if via.api == 0 {
            Source::Kernel
        } else {
            Source::Engine
        };
        return Ok((snapshot, source, via_notes(&via)));
    };
    // Right after start-up, the watcher's first round is at most a
    // request timeout away; a command waits for it, never for the engine.
    let wait = Duration::from_secs(p.settings.docker.timeout_secs.max(1));
    let current = watcher
        .current_within(wait)
        .await
        .map_err(|why| DiagnoseError::NotWatching { why })?;
    let mut notes = via_notes(&current.via);
    let stale: Vec<u64> = current
        .live
        .snapshot
        .containers
        .iter()
        .filter_map(|c| c.age_ms.filter(|age| *age > current.stale_ms))
        .collect();
    if let Some(oldest) = stale.iter().max() {
        notes.push(format!(
            "{} of {} rows are older than {} s (the oldest {:.1} s): shown as last read",
            stale.len(),
            current.live.snapshot.containers.len(),
            current.stale_ms / 1000,
            *oldest as f64 / 1000.0
        ));
    }
    if !current.synced {
        notes.push(match &current.engine_error {
            Some(_) => "the engine's event stream is down: containers started or removed since are not shown as such".into(),
            None => "the container list is being re-read from the engine".into(),
        });
    }
    let reader = if current.via.api > 0 {
        Reader::StatsApi
    } else {
        Reader::Kernel
    };
    let source = Source::Live {
        age_ms: current.live.oldest_ms.unwrap_or(current.live.newest_ms),
        newest_ms: current.live.newest_ms,
        reader,
    };
    Ok((current.live.snapshot, source, notes))
}

/// What the report says about rows read through the stats API.
fn via_notes(via: &Via) -> Vec<String> {
    match (&via.why_api, via.api) {
        (_, 0) => Vec::new(),
        (Some(why), n) => vec![format!(
            "{n} of {} rows read through the engine's stats API: {why}",
            via.api + via.kernel
        )],
        (None, n) => vec![format!("{n} rows read through the engine's stats API")],
    }
}

/// Step 2: memory over time, from the watcher's history.
pub(super) async fn memory_trend(
    p: &Probes<'_>,
    step: &Step,
    input: &StepInput,
    rule: &TrendRule,
) -> Result<Found, DiagnoseError> {
    let Some(watcher) = p.watcher else {
        return Err(DiagnoseError::NeedsWatcher {
            step: step.id.clone(),
        });
    };
    let now = OffsetDateTime::now_utc();
    let since = now - time::Duration::seconds(rule.window_secs as i64);
    let histories = watcher.history(input.service.as_deref(), since).await;
    if histories.is_empty() {
        return Err(DiagnoseError::NoHistory {
            service: input.service.clone().unwrap_or_else(|| "any".into()),
            minutes: rule.window_secs / 60,
        });
    }
    let report = judge_trend(step, rule, &histories, now);
    Ok((
        p.engine.endpoint().to_string(),
        Source::History,
        Finding::MemoryTrend(report),
    ))
}

/// The runbook's per-container bar (step `container_memory`'s
/// `process_max_mib`), which trends are projected against when a container
/// has no limit of its own.
pub(super) fn process_bar(runbook: &Runbook) -> Option<f64> {
    runbook.steps.iter().find_map(|s| match &s.get_ref().check {
        Check::ContainerMemory(c) => c.process_max_mib,
        _ => None,
    })
}
