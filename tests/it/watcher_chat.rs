//! The live watcher through the real bot: `/mem status` from the cache,
//! `/mem leaks` on real growing and flat workloads, HighMemoryUsage alerts
//! that open one incident (not one per sample), thread updates, containers
//! picked up and dropped while the bot runs, and `/metrics` checked by
//! Prometheus's own `promtool`.

use crate::discord::{Emulator, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `/metrics` until `pred` holds for it.
async fn metrics_until(base: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = get(&format!("{base}/metrics")).await;
        if status == 200 && pred(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/metrics never showed {what}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn series(metrics: &str, name: &str, container: &str) -> bool {
    metrics
        .lines()
        .any(|l| l.starts_with(name) && l.contains(&format!("container=\"{container}\"")))
}

/// Runs `/mem <sub>`; returns its edited reply, its chart (if any) decoded.
async fn run(emu: &Emulator, sub: &str, options: Vec<(String, Value)>) -> Value {
    let edit = mem_reply(emu, sub, options).await;
    if !edit.files.is_empty() {
        assert_png(&edit);
    }
    edit.json.clone().expect("payload")
}

fn field(embed: &Value, name: &str) -> String {
    embed["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == name))
        .map(|f| f["value"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_answers_from_the_live_cache_and_follows_containers_coming_and_going() {
    let TestApp {
        project: mut p,
        emu,
        bot,
    } = spawn_app("live", &[("web", 16, None)], &[]).await;
    let web = p.container("web");
    let base = bot.http_base().await;
    metrics_until(&base, "the web container", |m| {
        series(m, "incident_bot_container_memory_usage_bytes", &web)
    })
    .await;

    let body = run(&emu, "status", vec![]).await;
    let footer = body["embeds"][0]["footer"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        footer.contains("live data"),
        "answered from the cache: {footer}"
    );
    assert!(
        footer.contains("live data from the kernel's cgroup files"),
        "read where the engine reads it: {footer}"
    );
    // "…, 0.4 s old" or, when rows differ, "…, 0.1-0.9 s old": the oldest.
    let age: f64 = footer
        .split(" s old")
        .next()
        .and_then(|s| s.rsplit([' ', '-']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an age in {footer}"));
    assert!(age <= 2.0, "at most 2 s old: {footer}");

    // A container started while the bot runs is picked up…
    let worker = p.start("celery_worker", 8, Some(64));
    let m = metrics_until(&base, "the new worker", |m| {
        series(m, "incident_bot_container_memory_usage_bytes", &worker)
    })
    .await;
    assert!(series(
        &m,
        "incident_bot_container_memory_limit_bytes",
        &worker
    ));
    // …and one removed is dropped.
    p.remove(&web);
    metrics_until(&base, "web gone", |m| {
        !series(m, "incident_bot_container_memory_usage_bytes", &web)
    })
    .await;
    let body = run(&emu, "status", vec![]).await;
    let table = body["embeds"][0]["description"].as_str().unwrap();
    assert!(table.contains(&worker) && !table.contains(&web), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn leaks_flags_a_growing_workload_and_calls_a_flat_one_stable() {
    let mut p = Project::new("leaks");
    // 2 MiB a second: a leak by any standard. Beside it, a flat one.
    let web = p.start_with("web", 8, None, &["--grow-mb", "2", "--every-ms", "1000"]);
    let beat = p.start("beat", 8, None);
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    // A dozen recorded points of each (one a second).
    bot.wait_history(2, 12).await;

    let body = run(
        &emu,
        "leaks",
        vec![
            ("service".into(), json!("web")),
            ("window".into(), json!(1)),
        ],
    )
    .await;
    let embed = &body["embeds"][0];
    assert_eq!(embed["color"], 0xE7_4C_3C, "red: {embed:#}");
    assert!(
        field(embed, "Verdict").contains("Memory leak detected"),
        "{embed:#}"
    );
    let offenders = field(embed, "Offenders");
    assert!(
        offenders.contains(&web) && offenders.contains("MiB/hour"),
        "{offenders}"
    );
    let table = embed["description"].as_str().unwrap();
    let row = table.lines().find(|l| l.starts_with(&web)).unwrap();
    let slope: f64 = row.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(slope > 1000.0, "about +7200 MiB/hour: {row}");
    assert!(embed["footer"]["text"]
        .as_str()
        .unwrap()
        .contains("recorded history"));

    let body = run(
        &emu,
        "leaks",
        vec![
            ("service".into(), json!("beat")),
            ("window".into(), json!(1)),
        ],
    )
    .await;
    let embed = &body["embeds"][0];
    assert_eq!(embed["color"], 0x2E_CC_71, "green, stable: {embed:#}");
    assert!(!embed["description"].as_str().unwrap().contains(&web));
    assert!(embed["description"].as_str().unwrap().contains(&beat));

    // A service with no history is one clear sentence.
    let body = run(&emu, "leaks", vec![("service".into(), json!("nosuch"))]).await;
    let content = body["content"].as_str().unwrap();
    assert!(
        content.contains("no container of service 'nosuch' has memory history"),
        "{content}"
    );
}

/// Whether a post is the HighMemoryUsage alert's report.
fn is_firing_report(m: &Value) -> bool {
    m["content"]
        .as_str()
        .unwrap_or("")
        .contains("**HighMemoryUsage** firing")
}

/// Waits for a post in `channel` whose content satisfies `pred`.
async fn wait_post(emu: &Emulator, channel: u64, what: &str, pred: impl Fn(&str) -> bool) {
    emu.wait_until(WAIT, what, |emu| {
        emu.messages_in(channel)
            .into_iter()
            .find(|m| pred(m["content"].as_str().unwrap_or("")))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sustained_breach_opens_one_incident_with_one_report_then_resolves() {
    let TestApp {
        project: mut p,
        emu,
        bot,
    } = spawn_app(
        "breach",
        &[("beat", 8, None)],
        &[
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__HIGHMEMORYUSAGE__PROCESS_MAX_MIB",
                "24",
            ),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__HIGHMEMORYUSAGE__FOR_SECS",
                "3",
            ),
            ("INCIDENT_BOT_WATCH__THREAD_UPDATE_SECS", "2"),
        ],
    )
    .await;
    bot.wait_log("watcher following the engine").await;
    let web = p.start("web", 40, None);
    let started = Instant::now();
    let report = emu
        .wait_until(WAIT, "the alert's report", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID)
                .into_iter()
                .find(is_firing_report)
        })
        .await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "not before the 3 s hold"
    );
    assert!(
        report["content"].as_str().unwrap().contains("web uses"),
        "{report}"
    );
    assert!(report["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains(&web));
    let db = bot.db.as_ref().unwrap().client().await;
    let thread = still_one_report_and_one_incident(&emu, &db).await;
    // The thread gets memory updates while the incident is open.
    wait_post(&emu, thread, "a memory update in the thread", |c| {
        c.starts_with("Memory update: total")
    })
    .await;

    // The condition clears: the alert resolves, said in the thread.
    p.remove(&web);
    wait_post(&emu, thread, "the resolution", |c| {
        c.contains("**HighMemoryUsage** resolved")
    })
    .await;
    let state: String = db
        .query_one("SELECT state FROM alerts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "resolved");
    bot.audit_until(|rows| {
        rows.iter()
            .any(|(a, _)| a == "alert HighMemoryUsage resolved (bot)")
    })
    .await;
}

/// The breach goes on for several more evaluations: still one report, one
/// "opened" post and one incident. Returns the incident's thread.
async fn still_one_report_and_one_incident(emu: &Emulator, db: &tokio_postgres::Client) -> u64 {
    tokio::time::sleep(Duration::from_secs(5)).await;
    let posts = emu.messages_in(INCIDENT_CHANNEL_ID);
    assert_eq!(
        posts.iter().filter(|m| is_firing_report(m)).count(),
        1,
        "{posts:#?}"
    );
    let opened = posts
        .iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .unwrap_or("")
                .contains("opened by the HighMemoryUsage alert")
        })
        .count();
    assert_eq!(opened, 1);
    let (incidents, thread): (i64, Option<i64>) = {
        let r = db
            .query_one("SELECT count(*), max(thread_id) FROM incidents", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(incidents, 1);
    thread.expect("the incident has a thread") as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_pass_promtool_and_health_endpoints_answer() {
    let TestApp {
        project: p,
        emu,
        bot,
    } = spawn_app("metrics", &[("web", 8, None)], &[]).await;
    let web = p.container("web");
    let base = bot.http_base().await;
    // A command handled, so the counters and histogram have samples.
    run(&emu, "status", vec![]).await;
    let m = metrics_until(&base, "the command and the container", |m| {
        m.contains("incident_bot_commands_total{command=\"/mem status\"")
            && series(m, "incident_bot_container_memory_usage_bytes", &web)
    })
    .await;
    assert!(
        m.contains(
            "incident_bot_command_duration_seconds_bucket{command=\"/mem status\",le=\"+Inf\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains("incident_bot_watcher_up 1") && m.contains("incident_bot_database_up 1"),
        "{m}"
    );

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(m.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {} {}\n{m}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The shipped rules that alert on the bot's absence or blindness are
    // valid and fire when they should (promtool's own rule tests).
    let rules = Command::new("promtool")
        .args([
            "test",
            "rules",
            "config/prometheus/incident-bot.rules.test.yml",
        ])
        .output()
        .unwrap();
    assert!(
        rules.status.success(),
        "promtool test rules: {}{}",
        String::from_utf8_lossy(&rules.stdout),
        String::from_utf8_lossy(&rules.stderr)
    );
    assert!(m.contains("incident_bot_blind{what=\"engine\"} 0"), "{m}");

    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "database: up\nwatcher: up\ndiscord: up\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_says_what_is_down() {
    let emu = Emulator::start().await;
    // No database at all: the bot still serves diagnosis, but is not ready.
    let bot = Bot::start_on(&emu, "ibt-none", &[], "postgres://nobody@127.0.0.1:1/none").await;
    let base = bot.http_base().await;
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("database: down"), "{body}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
}
