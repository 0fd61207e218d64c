//! Step 1 across a fleet (`fleet.enabled`): this node's live samples and
//! the other nodes' latest published ones, each host judged on its own by
//! the core's `judge_fleet`. A host whose data is missing or too old is
//! shown as blind, never silently left out; when the database cannot be
//! read, the other hosts are blind together and the report says so.

use super::probe::{memory_now, Found};
use super::{DiagnoseError, Probes, StepInput};
use crate::config::Scope;
use crate::core::diagnosis::{judge_fleet, Finding, HostSnapshot, Reader, Source};
use crate::core::memory::{MemorySnapshot, Reading};
use crate::core::runbook::{ContainerMemoryCheck, Step};
use crate::store::{NodeView, Store};
use std::time::Duration;
use time::OffsetDateTime;

/// Step 1 for every host of the fleet, or the one `input.host` names.
/// With a live watcher (`serve`), this host's rows are its own, fresher
/// than what it published; without one (the terminal), every host's come
/// from the database.
pub(super) async fn fleet_memory(
    p: &Probes<'_>,
    store: &Store,
    step: &Step,
    check: &ContainerMemoryCheck,
    input: &StepInput,
) -> Result<Found, DiagnoseError> {
    let own = match p.watcher {
        Some(_) => p.settings.fleet.node.as_str(),
        None => "",
    };
    let wanted = input.host.as_deref();
    let mut hosts = Vec::new();
    let mut notes = Vec::new();
    if !own.is_empty() && wanted.is_none_or(|h| h == own) {
        hosts.push(match memory_now(p).await {
            Ok((snapshot, _, own_notes)) => {
                notes.extend(own_notes.into_iter().map(|n| format!("{own}: {n}")));
                HostSnapshot {
                    host: own.to_string(),
                    snapshot,
                    blind: None,
                }
            }
            Err(DiagnoseError::NotWatching { why }) => HostSnapshot {
                host: own.to_string(),
                snapshot: MemorySnapshot {
                    host_memory_bytes: 0,
                    containers: Vec::new(),
                },
                blind: Some(format!("its Docker engine is not followed ({why})")),
            },
            Err(e) => return Err(e),
        });
    }
    if own.is_empty() || wanted != Some(own) {
        let limit = Duration::from_secs(p.settings.docker.timeout_secs.max(1));
        let read = tokio::time::timeout(limit, store.fleet()).await;
        match read.map_err(|_| format!("no answer within {} s", limit.as_secs())) {
            Ok(Ok(nodes)) => {
                let known: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                if let Some(h) = wanted.filter(|h| !known.contains(h)) {
                    return Err(DiagnoseError::UnknownHost {
                        host: h.to_string(),
                        known: std::iter::once(own)
                            .filter(|n| !n.is_empty())
                            .chain(known.iter().copied().filter(|n| *n != own))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                for n in nodes
                    .into_iter()
                    .filter(|n| n.name != own && wanted.is_none_or(|h| h == n.name))
                {
                    hosts.push(other_host(p, n, &mut notes));
                }
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => crate::cause_chain(&e),
                    Err(why) => why,
                    Ok(Ok(_)) => unreachable!("matched above"),
                };
                tracing::warn!(error = %why, "the fleet's database could not be read for a report");
                hosts.push(HostSnapshot {
                    host: "other hosts".into(),
                    snapshot: MemorySnapshot {
                        host_memory_bytes: 0,
                        containers: Vec::new(),
                    },
                    blind: Some(
                        "the fleet's database cannot be read (the bot's log has the details)"
                            .into(),
                    ),
                });
            }
        }
    }
    hosts.sort_by(|a, b| a.host.cmp(&b.host));
    if hosts
        .iter()
        .all(|h| h.blind.is_none() && h.snapshot.containers.is_empty())
    {
        return Err(DiagnoseError::NoContainers {
            scope: p.scope.clone(),
            endpoint: format!("the fleet's {} hosts", hosts.len()),
            running: Default::default(),
        });
    }
    let mut report = judge_fleet(step, check, &hosts);
    report.verdict.notes.extend(notes);
    let ages: Vec<u64> = report
        .rows
        .iter()
        .filter(|r| r.sample.reading != Reading::Gone)
        .filter_map(|r| r.sample.age_ms)
        .collect();
    let source = Source::Live {
        age_ms: ages.iter().copied().max().unwrap_or(0),
        newest_ms: ages.iter().copied().min().unwrap_or(0),
        reader: Reader::Kernel,
    };
    let where_ = format!("fleet of {} hosts", hosts.len());
    Ok((where_, source, Finding::ContainerMemory(report)))
}

/// Another node's part: its published rows of the watched project, or why
/// it is blind. A node that is late but not yet blind is shown with a note.
fn other_host(p: &Probes<'_>, n: NodeView, notes: &mut Vec<String>) -> HostSnapshot {
    let blind_after = p.settings.fleet.blind_after_secs.max(1) as f64;
    let late_after = (p.settings.fleet.publish_ms.max(100) * 3) as f64 / 1000.0;
    let blind = match (n.stale_secs, &n.engine_error) {
        _ if n.silent_secs > blind_after => Some(format!(
            "no data since {}: its bot has not been heard from",
            clock(n.data_at.unwrap_or(n.seen_at))
        )),
        (None, Some(e)) => Some(format!(
            "no data yet: its Docker engine does not answer ({})",
            crate::core::text::clip(e, 200)
        )),
        (None, None) => Some("no data yet".into()),
        (Some(stale), Some(e)) if stale > blind_after => Some(format!(
            "no data since {}: its Docker engine does not answer ({})",
            clock(n.data_at.unwrap_or(n.seen_at)),
            crate::core::text::clip(e, 200)
        )),
        (Some(_), Some(e)) => {
            notes.push(format!(
                "{}: its Docker engine does not answer ({}); rows shown as last read",
                n.name,
                crate::core::text::clip(e, 200)
            ));
            None
        }
        (Some(_), None) => {
            if n.silent_secs > late_after {
                notes.push(format!(
                    "{}: last published {:.0} s ago; rows shown as last read",
                    n.name, n.silent_secs
                ));
            }
            None
        }
    };
    let project = match &p.scope {
        Scope::Project(p) => Some(p.as_str()),
        Scope::All => None,
    };
    let containers = if blind.is_some() {
        Vec::new()
    } else {
        n.containers
            .into_iter()
            .filter(|c| project.is_none_or(|p| c.project.as_deref() == Some(p)))
            .collect()
    };
    HostSnapshot {
        host: n.name,
        snapshot: MemorySnapshot {
            host_memory_bytes: n.host_memory_bytes,
            containers,
        },
        blind,
    }
}

fn clock(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second())
}
