//! The registry's rendering: every family declared once, counters and
//! buckets cumulated, label values escaped and bounded.

use super::*;

#[rustfmt::skip]
fn container(name: &str, service: Option<&str>, limit_bytes: Option<u64>) -> ContainerGauge {
    let (name, service) = (name.to_owned(), service.map(str::to_owned));
    ContainerGauge { name, service, usage_bytes: 1 << 20, limit_bytes, sample_age_seconds: 1.5 }
}

#[test]
fn empty_registry_declares_every_family_once() {
    let out = Metrics::new().render(&Live::default());
    let families = "incident_bot_commands_total counter
            incident_bot_docker_errors_total counter incident_bot_postgres_errors_total counter
            incident_bot_alerts_total counter incident_bot_alertmanager_requests_total counter
            incident_bot_approvals_total counter incident_bot_escalations_total counter
            incident_bot_memory_reads_total counter incident_bot_pages_total counter
            incident_bot_page_deliveries_total counter incident_bot_heartbeats_total counter
            incident_bot_blind gauge
            incident_bot_command_duration_seconds histogram incident_bot_watcher_up gauge
            incident_bot_container_memory_usage_bytes gauge incident_bot_watched_containers gauge
            incident_bot_container_memory_limit_bytes gauge incident_bot_alerts_firing gauge
            incident_bot_container_sample_age_seconds gauge incident_bot_database_up gauge";
    let words: Vec<&str> = families.split_whitespace().collect();
    for pair in words.chunks(2) {
        let help = format!("# HELP {} ", pair[0]);
        let kind = format!("# TYPE {} {}\n", pair[0], pair[1]);
        assert_eq!(out.matches(&help).count(), 1, "{help}");
        assert_eq!(out.matches(&kind).count(), 1, "{kind}");
    }
    assert_eq!(out.matches("# TYPE ").count(), words.len() / 2);
    assert!(out.contains("\nincident_bot_watched_containers 0\n"));
    // Blindness is always declared, 0 until said, so an alert rule on it
    // works from the first scrape.
    assert!(
        out.contains("\nincident_bot_blind{what=\"engine\"} 0\n"),
        "{out}"
    );
}

#[test]
fn blindness_is_a_gauge_per_part() {
    let m = Metrics::new();
    m.blind("database", true);
    m.blind("nonsense", true);
    let out = m.render(&Live::default());
    assert!(
        out.contains("\nincident_bot_blind{what=\"database\"} 1\n"),
        "{out}"
    );
    assert!(
        out.contains("\nincident_bot_blind{what=\"watcher\"} 0\n"),
        "{out}"
    );
    assert!(!out.contains("nonsense"));
}

#[test]
fn command_lands_in_counter_and_cumulative_buckets() {
    let m = Metrics::new();
    m.command("/mem status", "ok", Duration::from_millis(300));
    let out = m.render(&Live::default());
    let counter = r#"
incident_bot_commands_total{command="/mem status",outcome="ok"} 1
"#;
    assert!(out.contains(counter), "{out}");
    // 0.3 s: not in le="0.25", in le="0.5" and every bucket above.
    let histogram = r#"
incident_bot_command_duration_seconds_bucket{command="/mem status",le="0.05"} 0
incident_bot_command_duration_seconds_bucket{command="/mem status",le="0.1"} 0
incident_bot_command_duration_seconds_bucket{command="/mem status",le="0.25"} 0
incident_bot_command_duration_seconds_bucket{command="/mem status",le="0.5"} 1
incident_bot_command_duration_seconds_bucket{command="/mem status",le="1"} 1
incident_bot_command_duration_seconds_bucket{command="/mem status",le="2.5"} 1
incident_bot_command_duration_seconds_bucket{command="/mem status",le="5"} 1
incident_bot_command_duration_seconds_bucket{command="/mem status",le="10"} 1
incident_bot_command_duration_seconds_bucket{command="/mem status",le="30"} 1
incident_bot_command_duration_seconds_bucket{command="/mem status",le="+Inf"} 1
incident_bot_command_duration_seconds_sum{command="/mem status"} 0.3
incident_bot_command_duration_seconds_count{command="/mem status"} 1
"#;
    assert!(out.contains(histogram), "{out}");
}

#[test]
fn label_values_are_escaped_and_cut() {
    let live = Live {
        fleet: Vec::new(),
        containers: vec![container("we\"ird\\na\nme", None, Some(2))],
        alerts_firing: vec![("x".repeat(200), 1)],
        ..Live::default()
    };
    let out = Metrics::new().render(&live);
    let labels = r#"{container="we\"ird\\na\nme",service=""}"#;
    for (which, value) in [("usage", "1048576"), ("limit", "2")] {
        let line = format!("\nincident_bot_container_memory_{which}_bytes{labels} {value}\n");
        assert!(out.contains(&line), "{line}");
    }
    let cut = format!("{{alert=\"{}\"}} 1\n", "x".repeat(128));
    assert!(out.contains(&cut), "{out}");
}

#[test]
fn output_is_sorted_stable_and_families_contiguous() {
    let (a, b) = (Metrics::new(), Metrics::new());
    a.docker_error("stats");
    a.docker_error("list");
    b.docker_error("list");
    b.docker_error("stats");
    let live = |names: [&str; 2]| Live {
        fleet: Vec::new(),
        containers: names.map(|n| container(n, Some("web"), None)).to_vec(),
        ..Live::default()
    };
    let out = a.render(&live(["b", "a"]));
    assert_eq!(out, b.render(&live(["a", "b"])));
    assert!(out.find("operation=\"list\"").unwrap() < out.find("operation=\"stats\"").unwrap());
    assert!(!out.contains("incident_bot_container_memory_limit_bytes{"));
    // Every sample belongs to the family of the TYPE line above it.
    let mut family = "";
    for line in out.lines() {
        match line.strip_prefix("# TYPE ") {
            Some(t) => family = t.split(' ').next().unwrap(),
            None if !line.starts_with('#') => assert!(line.starts_with(family), "{line}"),
            None => {}
        }
    }
}
