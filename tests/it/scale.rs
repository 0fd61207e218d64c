//! Watching at scale: memory read from the kernel's cgroup files (found for
//! containers of the default and of their own cgroup parent), the stats
//! API taking over where the files are not reachable and the report saying
//! so, every row of a big project delivered, and a burst of commands
//! against a slow engine causing no engine reads beyond the bound.

use crate::discord::Recorded;
use crate::harness::*;
use serde_json::Value;
use std::time::{Duration, Instant};

fn status_json(project: &str, env: &[(&str, &str)]) -> Value {
    let out = bot(&["mem", "status", "--json", "--project", project], env);
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: stdout {:?} stderr {:?}", stdout(&out), stderr(&out)))
}

/// Our usage of each row against `docker stats`, within 5% (docker stats
/// prints four significant digits and reads a moment apart).
fn agrees_with_docker_stats(report: &Value, names: &[&str]) {
    let oracle = docker_stats(names);
    for name in names {
        let row = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == *name)
            .unwrap_or_else(|| panic!("no row for {name}: {report:#}"));
        let ours = row["usage_bytes"].as_f64().unwrap();
        let theirs = oracle[*name];
        assert!(
            (ours - theirs).abs() <= theirs * 0.05,
            "{name}: ours {ours} vs docker stats {theirs}"
        );
    }
}

#[test]
fn memory_is_read_from_the_cgroup_files_under_either_parent() {
    let mut p = Project::new("cgroup");
    let plain = p.start("web", 24, Some(128));
    // A cgroup parent of its own: not where the driver's convention puts
    // containers, so the hierarchy is searched.
    let parented = p.start_full("worker", 40, None, &["--cgroup-parent", "/ibt-parent"], &[]);
    let report = status_json(&p.name, &[]);
    assert_eq!(report["source"]["from"], "kernel", "{report:#}");
    assert_eq!(report["rows"].as_array().unwrap().len(), 2);
    agrees_with_docker_stats(&report, &[&plain, &parented]);
    let web = &report["rows"][0];
    assert_eq!(web["name"], plain.as_str());
    assert_eq!(web["limit_bytes"], 128 * MIB);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_cgroup_files_the_stats_api_takes_over_and_says_so() {
    let TestApp {
        project: p,
        emu,
        bot: _bot,
    } = spawn_app(
        "no-cgroup",
        &[("web", 24, None), ("beat", 8, None)],
        &[("INCIDENT_BOT_WATCH__CGROUP_ROOT", "/nonexistent")],
    )
    .await;
    // The terminal: read through the API, with the reason in the report.
    let env = [("INCIDENT_BOT_WATCH__CGROUP_ROOT", "/nonexistent")];
    let report = status_json(&p.name, &env);
    assert_eq!(report["source"]["from"], "engine", "{report:#}");
    let notes = report["verdict"]["notes"].to_string();
    assert!(
        notes.contains("2 of 2 rows read through the engine's stats API")
            && notes.contains("/nonexistent"),
        "{notes}"
    );
    agrees_with_docker_stats(&report, &[&p.container("web"), &p.container("beat")]);

    // The bot: its watcher reads through the API and its report says so.
    let body = mem(&emu, "status", vec![]).await;
    let embed = &body["embeds"][0];
    let footer = embed["footer"]["text"].as_str().unwrap();
    assert!(
        footer.contains("live data from the engine's stats API"),
        "{footer}"
    );
    assert!(
        embed
            .to_string()
            .contains("rows read through the engine's stats API"),
        "{embed:#}"
    );
    let table = embed["description"].as_str().unwrap();
    assert!(
        table.contains(&p.container("web")) && !table.contains("no reading"),
        "{table}"
    );
}

/// The reply's files, by name.
fn file<'a>(reply: &'a Recorded, name: &str) -> &'a [u8] {
    &reply
        .files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                reply.files.iter().map(|f| &f.0).collect::<Vec<_>>()
            )
        })
        .1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_of_200_containers_delivers_every_row() {
    let mut p = Project::new("big");
    let names = p.start_many(200, 1);
    let emu = crate::discord::Emulator::start().await;
    let _bot = Bot::start(&emu, &p.name, &[]).await;
    let reply = mem_reply(&emu, "status", vec![]).await;
    let body = reply.json.as_ref().unwrap();
    let description = body["embeds"][0]["description"].as_str().unwrap();
    let shown = description
        .lines()
        .filter(|l| l.starts_with(&p.name))
        .count();
    assert!(
        description.contains(&format!("showing {shown} of 200 containers"))
            && description.contains("full table attached (memory-table.txt)"),
        "{description}"
    );
    assert!((20..200).contains(&shown), "{shown} rows in the embed");
    let table = String::from_utf8(file(&reply, "memory-table.txt").to_vec()).unwrap();
    for name in &names {
        assert_eq!(
            table
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(name))
                .count(),
            1,
            "{name} once in the attached table"
        );
    }
    assert!(table.contains("TOTAL"));
    file(&reply, "memory.png");
}

/// Fires `n` `/mem status` at once and waits for every answer; returns
/// the answers and how long the burst took.
async fn burst(emu: &crate::discord::Emulator, n: usize) -> (Vec<Value>, Duration) {
    let t0 = Instant::now();
    let mut sent = Vec::new();
    for _ in 0..n {
        sent.push(emu.slash(mem_slash("status", vec![])).await);
    }
    let mut answers = Vec::new();
    for s in &sent {
        let edit = emu.wait_for(WAIT, |r| is_original_edit(r, &s.token)).await;
        answers.push(edit.json.unwrap());
    }
    (answers, t0.elapsed())
}

/// Every answer is a report whose footer says `how`.
fn every_footer_says(answers: &[Value], how: &str) {
    for a in answers {
        let footer = a["embeds"][0]["footer"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(footer.contains(how), "{a:#}");
    }
}

async fn slow_engine_app(tag: &str, proxy: &EngineProxy, extra: &[(&str, &str)]) -> TestApp {
    let endpoint = proxy.endpoint();
    let mut env = vec![
        ("DOCKER_HOST", endpoint.as_str()),
        ("INCIDENT_BOT_DOCKER__MAX_CONCURRENT_STATS", "3"),
    ];
    env.extend(extra);
    let mut project = Project::new(tag);
    project.start_many(10, 1);
    let emu = crate::discord::Emulator::start().await;
    let bot = Bot::start(&emu, &project.name, &env).await;
    // The first answer: the watcher follows the engine.
    let first = mem(&emu, "status", vec![]).await;
    assert!(first["embeds"][0]["description"].is_string(), "{first:#}");
    TestApp { project, emu, bot }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_on_a_slow_engine_reads_the_engine_only_within_the_bound() {
    // Every request to the engine waits 200 ms; the cgroup files are off,
    // so the watcher itself reads through the stats API.
    let proxy = EngineProxy::start(Duration::from_millis(200));
    let app = slow_engine_app(
        "slow-api",
        &proxy,
        &[("INCIDENT_BOT_WATCH__CGROUP_ROOT", "")],
    )
    .await;
    proxy.seen.reset();
    let (answers, took) = burst(&app.emu, 40).await;
    every_footer_says(&answers, "live data from the engine's stats API");
    // Only the watcher's rounds read stats: at most one round of 10 per
    // second (fewer on this slow engine), never 40 commands × 10.
    let rounds = took.as_secs_f64().ceil() as u64 + 2;
    let stats = proxy.seen.stats();
    assert!(stats <= 10 * rounds, "{stats} stats reads in {took:?}");
    // The proxy does count them: the watcher's rounds go on.
    let deadline = Instant::now() + Duration::from_secs(15);
    while proxy.seen.stats() == 0 {
        assert!(
            Instant::now() < deadline,
            "the watcher's stats reads were counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        proxy.seen.max_in_flight() <= 3,
        "{} at once",
        proxy.seen.max_in_flight()
    );
    eprintln!("burst of 40 on a slow engine via the stats API: {took:?}, {stats} stats reads, at most {} at once", proxy.seen.max_in_flight());
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_cgroup_files_commands_and_watching_read_no_stats() {
    let proxy = EngineProxy::start(Duration::from_millis(200));
    let app = slow_engine_app("slow-kernel", &proxy, &[]).await;
    proxy.seen.reset();
    let (answers, took) = burst(&app.emu, 40).await;
    every_footer_says(&answers, "live data from the kernel's cgroup files");
    assert_eq!(
        proxy.seen.stats(),
        0,
        "no stats read while answering 40 commands in {took:?}"
    );
    // The answers did not wait for the slow engine.
    assert!(took < Duration::from_secs(10), "{took:?}");
}
