//! The probes of the runbook's diagnosis steps, one per check: each takes
//! its observation from the adapter that owns it (the live watcher, the
//! engine, the monitored database) and has the core judge it.

use super::{DiagnoseError, Probes, StepInput};
use crate::appdb::AppDb;
use crate::config::Scope;
use crate::core::connections::{judge_connections, ConnectionRule};
use crate::core::diagnosis::{judge_memory, Finding, Source};
use crate::core::profile::{judge_profile, ProfileRun};
use crate::core::runbook::{Check, ContainerMemoryCheck, Profiler, Runbook, Step};
use crate::core::trend::{judge_trend, TrendRule};
use crate::docker::{DockerError, Engine};
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

/// Step 1: every container's memory, from the live cache when it is
/// complete and fresh, else from the engine.
pub(super) async fn container_memory(
    p: &Probes<'_>,
    step: &Step,
    check: &ContainerMemoryCheck,
) -> Result<Found, DiagnoseError> {
    let endpoint = p.engine.endpoint().to_string();
    let now = OffsetDateTime::now_utc();
    if let Some(fresh) = p.watcher.and_then(|w| w.fresh(now)) {
        let report = judge_memory(step, check, &fresh.snapshot);
        let age_ms = fresh.oldest_ms.unwrap_or(0);
        return Ok((
            endpoint,
            Source::Live { age_ms },
            Finding::ContainerMemory(report),
        ));
    }
    let limit = Duration::from_secs(p.settings.docker.timeout_secs);
    // Each request is bounded by `limit`; the whole report by twice that,
    // because the person waiting cares about the total.
    let report = memory(p.engine, p.scope, endpoint.clone(), step, check);
    match tokio::time::timeout(limit * 2, report).await {
        Ok(result) => Ok((endpoint, Source::Engine, result?)),
        Err(_) => Err(DiagnoseError::Docker(DockerError::Timeout {
            endpoint,
            secs: limit.as_secs() * 2,
        })),
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

async fn memory(
    engine: &Engine,
    scope: &Scope,
    endpoint: String,
    step: &Step,
    check: &ContainerMemoryCheck,
) -> Result<Finding, DiagnoseError> {
    let snapshot = engine.memory_snapshot(scope).await?;
    if snapshot.containers.is_empty() {
        let running = match scope {
            Scope::Project(_) => engine.running_projects().await?,
            Scope::All => BTreeMap::new(),
        };
        return Err(DiagnoseError::NoContainers {
            scope: scope.clone(),
            endpoint,
            running,
        });
    }
    Ok(Finding::ContainerMemory(judge_memory(
        step, check, &snapshot,
    )))
}
