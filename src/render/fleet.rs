//! What the fleet says in the incident channel by itself: a host it can no
//! longer see, and the same host seen again.

use super::message::Message;
use crate::core::incident::span;
use time::OffsetDateTime;

fn clock(t: OffsetDateTime) -> String {
    format!("{:02}:{:02} UTC", t.hour(), t.minute())
}

/// "No data from host web-2 since 14:03 UTC: …". `engine_error` is why its
/// engine is away when its bot is still heard from.
pub fn blind(
    node: &str,
    since: OffsetDateTime,
    bot_alive: bool,
    engine_error: Option<&str>,
) -> Message {
    let why = if bot_alive {
        format!(
            "its bot is running but its Docker engine does not answer ({})",
            crate::core::text::clip(engine_error.unwrap_or("no reason given"), 200)
        )
    } else {
        "its bot has not been heard from (the host is down, or cannot reach the database)"
            .to_string()
    };
    Message::text(format!(
        "⚠️ No data from host **{}** since {}: {why}. Reports leave its containers out, and say so, until it is back.",
        crate::core::text::clip(node, 64),
        clock(since)
    ))
}

/// "Host web-2 is seen again (no data from 14:03 UTC for 12 min)."
pub fn back(node: &str, since: OffsetDateTime, now: OffsetDateTime) -> Message {
    Message::text(format!(
        "✅ Host **{}** is seen again (no data from {} for {}).",
        crate::core::text::clip(node, 64),
        clock(since),
        span(now - since)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Mentions;
    use time::macros::datetime;

    #[test]
    fn blind_and_back_name_the_host_the_time_and_why() {
        let since = datetime!(2026-03-01 14:03:27 UTC);
        let down = blind("web-2", since, false, None);
        let text = down.content.as_deref().unwrap();
        assert!(
            text.contains("No data from host **web-2** since 14:03 UTC")
                && text.contains("has not been heard from"),
            "{text}"
        );
        let engine = blind("web-2", since, true, Some("connection refused"));
        assert!(engine
            .content
            .as_deref()
            .unwrap()
            .contains("Docker engine does not answer (connection refused)"));
        let up = back("web-2", since, since + time::Duration::minutes(12));
        assert!(
            up.content
                .as_deref()
                .unwrap()
                .contains("**web-2** is seen again (no data from 14:03 UTC for 12 min"),
            "{up:?}"
        );
        // Nobody is pinged by either.
        assert_eq!(
            (&down.mentions, &up.mentions),
            (&Mentions::None, &Mentions::None)
        );
    }

    /// A fleet's table: each row names its host, each host has its TOTAL
    /// line judged on its own, a blind host says so, and the chart's bars
    /// name their host.
    #[test]
    fn a_fleet_table_groups_rows_by_host_with_a_total_per_host() {
        use crate::core::diagnosis::{judge_fleet, HostSnapshot};
        use crate::core::memory::{ContainerSample, MemorySnapshot, Reading};
        use crate::core::runbook::{Check, Runbook};
        let rb = Runbook::parse(include_str!("../../commands/mem.toml"), "mem.toml").unwrap();
        let step = rb.step("status").unwrap();
        let Check::ContainerMemory(check) = &step.check else {
            unreachable!()
        };
        let row = |mib: u64| ContainerSample {
            name: "shop-web-1".into(),
            id: format!("id{mib}"),
            service: Some("web".into()),
            project: Some("shop".into()),
            reading: Reading::Sampled {
                usage_bytes: mib << 20,
                limit_bytes: None,
            },
            age_ms: Some(200),
        };
        let host = |name: &str, rows, blind: Option<&str>| HostSnapshot {
            host: name.into(),
            snapshot: MemorySnapshot {
                host_memory_bytes: 8 << 30,
                containers: rows,
            },
            blind: blind.map(String::from),
        };
        let r = judge_fleet(
            step,
            check,
            &[
                host("web-1", vec![row(100)], None),
                host("web-2", vec![row(600)], None),
                host("web-3", vec![], Some("no data since 14:03:00 UTC")),
            ],
        );
        let table = crate::render::memory_table(&r, usize::MAX);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("HOST") && lines[0].contains("CONTAINER"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("web-1") && lines[1].contains("shop-web-1"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("web-2") && lines[2].contains("<< OVER"),
            "{table}"
        );
        let total = |h: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(h) && l.contains("TOTAL"))
        };
        assert!(total("web-1").unwrap().contains("1.2% of host"), "{table}");
        assert!(total("web-2").unwrap().contains("<< OVER"), "{table}");
        assert!(total("web-3").unwrap().contains("blind"), "{table}");
        assert!(
            lines.last().unwrap().contains("TOTAL (all hosts)"),
            "{table}"
        );
        let d = crate::core::diagnosis::Diagnosis {
            runbook: "mem".into(),
            runbook_title: rb.runbook.title.clone(),
            scope: crate::core::diagnosis::ScopeView::Project("shop".into()),
            endpoint: "fleet of 3 hosts".into(),
            source: crate::core::diagnosis::Source::Engine,
            finding: crate::core::diagnosis::Finding::ContainerMemory(r.clone()),
        };
        let chart = crate::render::memory_chart(&d, &r, Some(500.0));
        let labels: Vec<&str> = chart.bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["web-1/web", "web-2/web"]);
    }
}
