//! The live-status benchmark (ignored by the suite; `bench/live-status`
//! runs it in release mode): `/mem status` answered from the watcher's cache
//! through the real bot and the Discord emulator, against `docker stats
//! --no-stream` for the same containers, side by side in one run; then the
//! bot's resident memory and CPU while it watches N and 100 containers.
//!
//! A benchmark prints figures; it asserts only that the measurements are
//! real (every answer came from live data, every container was watched).

use crate::discord::{Emulator, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Waits until /metrics says the bot watches `n` containers, each sampled.
async fn watching(base: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, m) = crate::harness::get(&format!("{base}/metrics")).await;
        let watched = m
            .lines()
            .find_map(|l| l.strip_prefix("incident_bot_watched_containers "))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let sampled = m
            .lines()
            .filter(|l| l.starts_with("incident_bot_container_memory_usage_bytes{"))
            .count();
        if watched == n && sampled == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "watching {watched}, sampled {sampled}, want {n}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// (resident MiB, CPU % of one core over `window`) of process `pid`.
async fn rss_and_cpu(pid: u32, window: Duration) -> (f64, f64) {
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name (which may hold spaces).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let hz = 100.0; // USER_HZ on Linux
    let before = ticks();
    tokio::time::sleep(window).await;
    let cpu = (ticks() - before) as f64 / hz / window.as_secs_f64() * 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    (kib / 1024.0, cpu)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run by bench/live-status"]
async fn bench_live_status() {
    let n = env_usize("BENCH_N", 50);
    let runs = env_usize("RUNS", 7);
    let mut p = Project::new("bench");
    println!("starting {n} containers…");
    let mut names: Vec<String> = (0..n)
        .map(|i| p.start(&format!("svc{i}"), 8, None))
        .collect();
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    let base = bot.http_base().await;
    watching(&base, n).await;

    let mut bot_ms = Vec::new();
    let mut docker_ms = Vec::new();
    let mut max_age: f64 = 0.0;
    // One warm-up each, then alternate.
    for i in 0..=runs {
        let t = Instant::now();
        let out = Command::new("docker")
            .args(["stats", "--no-stream"])
            .args(&names)
            .output()
            .unwrap();
        assert!(out.status.success());
        let docker = t.elapsed().as_secs_f64() * 1000.0;

        let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
        let edit = emu
            .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
            .await;
        let ours = edit.at.duration_since(sent.at).as_secs_f64() * 1000.0;
        let footer = edit.json.as_ref().unwrap()["embeds"][0]["footer"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let age: f64 = footer
            .split("live data, ")
            .nth(1)
            .and_then(|s| s.split(" s old").next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not answered from the live cache: {footer}"));
        let rows = edit.json.as_ref().unwrap()["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .matches(&p.name)
            .count();
        assert!(rows > 0, "the report lists the containers");
        if i > 0 {
            bot_ms.push(ours);
            docker_ms.push(docker);
            max_age = max_age.max(age);
        }
    }
    let (ours, theirs) = (median(&mut bot_ms), median(&mut docker_ms));
    println!();
    println!("live status, {n} containers, {runs} runs each (medians):");
    println!("  /mem status (live cache, via Discord emulator): {ours:8.1} ms   data at most {max_age:.1} s old");
    println!("  docker stats --no-stream (same containers):     {theirs:8.1} ms");
    println!("  ratio: {:.1}x faster", theirs / ours);

    let pid = bot.pid();
    let (rss, cpu) = rss_and_cpu(pid, Duration::from_secs(10)).await;
    println!("  bot while watching {n}: RSS {rss:.1} MiB, CPU {cpu:.1}% of one core (10 s)");
    if n < 100 {
        for i in n..100 {
            names.push(p.start(&format!("svc{i}"), 8, None));
        }
        watching(&base, 100).await;
        let (rss, cpu) = rss_and_cpu(pid, Duration::from_secs(10)).await;
        println!("  bot while watching 100: RSS {rss:.1} MiB, CPU {cpu:.1}% of one core (10 s)");
    }
}
