//! Prometheus Alertmanager's webhook payload (version 4) into the bot's
//! [`AlertEvent`]s. Pure: bytes and context in, events or one sentence out.
//!
//! Alerts the runbook does not declare, and alerts labelled with another
//! Compose project, are ignored (counted, never acted on).

use crate::core::alerting::{AlertEvent, AlertSource, TOTAL};
use crate::core::commands::{is_node_name, is_service_name};
use crate::core::text::{clip, storable};
use serde::Deserialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The parts of the payload the bot reads; unknown fields are allowed
/// (Alertmanager adds some over versions).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    version: String,
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    status: String,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// What one delivery amounts to.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub events: Vec<AlertEvent>,
    /// Alerts not acted on, with why ("MemoryPressure: not in the runbook").
    pub ignored: Vec<String>,
}

/// Labels that name the Compose service, in order of preference: a plain
/// label, then what cAdvisor/Docker service discovery export.
const SERVICE_LABELS: [&str; 3] = [
    "service",
    "com_docker_compose_service",
    "container_label_com_docker_compose_service",
];
/// Labels that name the fleet's host (a node's name).
const HOST_LABELS: [&str; 2] = ["host", "node"];
const PROJECT_LABELS: [&str; 3] = [
    "project",
    "com_docker_compose_project",
    "container_label_com_docker_compose_project",
];

/// Parses a delivery. `known` are the alert names the runbooks declare;
/// `project` the watched Compose project (`None` when watching all).
pub fn parse(
    body: &[u8],
    known: &[String],
    project: Option<&str>,
    fleet: bool,
    now: OffsetDateTime,
) -> Result<Parsed, String> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not an Alertmanager webhook payload: {e}"))?;
    if payload.version != "4" {
        return Err(format!(
            "webhook payload version {} is not supported (version 4 is)",
            payload.version
        ));
    }
    let mut out = Parsed::default();
    for a in payload.alerts {
        match event(a, known, project, fleet, now)? {
            Ok(ev) => out.events.push(ev),
            Err(ignored) => out.ignored.push(ignored),
        }
    }
    Ok(out)
}

/// One alert of a delivery as an event; the inner `Err` says why it is
/// ignored, the outer one why the whole delivery is refused.
fn event(
    a: Alert,
    known: &[String],
    project: Option<&str>,
    fleet: bool,
    now: OffsetDateTime,
) -> Result<Result<AlertEvent, String>, String> {
    let Some(name) = a.labels.get("alertname").cloned() else {
        return Ok(Err("an alert without an alertname label".into()));
    };
    if !known.contains(&name) {
        return Ok(Err(format!("{name}: not an alert of the runbook")));
    }
    let firing = match a.status.as_str() {
        "firing" => true,
        "resolved" => false,
        other => {
            return Err(format!(
                "alert {name} has status '{other}', not firing or resolved"
            ))
        }
    };
    let label = |names: &[&str]| names.iter().find_map(|n| a.labels.get(*n).cloned());
    if let (Some(theirs), Some(ours)) = (label(&PROJECT_LABELS), project) {
        if theirs != ours {
            return Ok(Err(format!(
                "{name}: for project {}, not {ours}",
                clip(&storable(&theirs), 60)
            )));
        }
    }
    let service = label(&SERVICE_LABELS);
    if let Some(s) = service.as_deref().filter(|s| !is_service_name(s)) {
        return Ok(Err(format!(
            "{name}: '{}' is not a Compose service name",
            clip(&storable(s), 60)
        )));
    }
    let summary = a
        .annotations
        .get("summary")
        .or_else(|| a.annotations.get("description"))
        .cloned()
        .unwrap_or_else(|| match &service {
            Some(s) => format!("{name} for {s}"),
            None => name.clone(),
        });
    // In a fleet, the host label names the node whose containers it is
    // about, as the bot's own alerts do; a single bot's alerts name none.
    let host = fleet
        .then(|| label(&HOST_LABELS))
        .flatten()
        .filter(|h| is_node_name(h));
    let key = service.as_deref().unwrap_or(TOTAL);
    let fingerprint = AlertEvent::fingerprint_of(&name, project, key, host.as_deref());
    Ok(Ok(AlertEvent {
        name,
        firing,
        fingerprint,
        service,
        container: None,
        summary: storable(&clip(&summary, 500)).into_owned(),
        source: AlertSource::Alertmanager,
        at: now,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn known() -> Vec<String> {
        vec!["HighMemoryUsage".into(), "OomKiller".into()]
    }

    fn body(alerts: &str) -> Vec<u8> {
        format!(
            r#"{{"version":"4","groupKey":"{{}}:{{}}","truncatedAlerts":0,"status":"firing","receiver":"bot",
               "groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"http://am",
               "alerts":[{alerts}]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn maps_runbook_alerts_and_ignores_the_rest() {
        let b = body(
            r#"{"status":"firing","labels":{"alertname":"HighMemoryUsage","service":"web","project":"rota-cc"},
                "annotations":{"summary":"web over 500 MB"},"startsAt":"2026-03-01T11:55:00Z",
                "endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"f00d"},
               {"status":"resolved","labels":{"alertname":"OomKiller","container_label_com_docker_compose_service":"celery_worker"},
                "annotations":{},"fingerprint":"beef"},
               {"status":"firing","labels":{"alertname":"DiskFull"},"annotations":{},"fingerprint":"1"},
               {"status":"firing","labels":{"alertname":"HighMemoryUsage","project":"other"},"annotations":{},"fingerprint":"2"}"#,
        );
        let p = parse(&b, &known(), Some("rota-cc"), false, NOW).unwrap();
        assert_eq!(p.events.len(), 2, "{p:?}");
        let e = &p.events[0];
        assert_eq!(
            (
                e.name.as_str(),
                e.firing,
                e.fingerprint.as_str(),
                e.service.as_deref(),
                e.summary.as_str()
            ),
            (
                "HighMemoryUsage",
                true,
                "HighMemoryUsage/rota-cc/web",
                Some("web"),
                "web over 500 MB"
            )
        );
        assert_eq!(p.events[1].service.as_deref(), Some("celery_worker"));
        assert!(!p.events[1].firing);
        assert_eq!(p.events[1].summary, "OomKiller for celery_worker");
        assert_eq!(p.ignored.len(), 2);
        assert!(
            p.ignored[1].contains("for project other"),
            "{:?}",
            p.ignored
        );
    }

    #[test]
    fn refuses_what_is_not_a_version_4_payload() {
        for (b, says) in [
            (b"not json".to_vec(), "not an Alertmanager webhook payload"),
            (b"{}".to_vec(), "not an Alertmanager webhook payload"),
            (
                br#"{"version":"3","alerts":[]}"#.to_vec(),
                "version 3 is not supported",
            ),
            (
                body(r#"{"status":"weird","labels":{"alertname":"OomKiller"}}"#),
                "status 'weird'",
            ),
            (
                body(r#"{"status":"firing"}"#),
                "not an Alertmanager webhook payload",
            ),
        ] {
            let e = parse(&b, &known(), None, false, NOW).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn the_fingerprint_is_the_bots_own_so_both_sources_make_one_alert() {
        let b = body(
            r#"{"status":"firing","labels":{"alertname":"OomKiller","service":"web","host":"web-2"},"fingerprint":"x"},
               {"status":"firing","labels":{"alertname":"HighMemoryUsage"}}"#,
        );
        let p = parse(&b, &known(), None, false, NOW).unwrap();
        assert_eq!(
            p.events[0].fingerprint, "OomKiller/*/web",
            "no host outside a fleet"
        );
        assert_eq!(p.events[1].fingerprint, "HighMemoryUsage/*/total");
        let p = parse(&b, &known(), Some("shop"), true, NOW).unwrap();
        assert_eq!(p.events[0].fingerprint, "OomKiller/shop/web@web-2");
    }
}
