//! The paging benchmark (ignored by the suite; `bench/paging` runs it in
//! release mode): the time from a real OOM kill to the page in the
//! incident's thread, to the direct message and to the paging webhook,
//! over N kills (10 by default), each of a new service so each opens its
//! own incident. The bot runs the shipped defaults (`paging.tick_ms` =
//! 1000); the webhook is a local receiver. The origin of every time is the
//! engine's own timestamp of the OOM event; `docker events` (what a person
//! watching the engine would see first) is measured beside it.
//!
//! A benchmark prints figures; it asserts only that every kill was paged
//! all three ways.

use crate::bench::{env_or, percentile};
use crate::discord::Emulator;
use crate::harness::*;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ONCALL: u64 = 5_550_001;

/// Milliseconds from `from` (ns since the epoch) to `to`.
fn since_ns(from: u128, to: SystemTime) -> f64 {
    let to = to.duration_since(UNIX_EPOCH).unwrap().as_nanos();
    (to as f64 - from as f64) / 1e6
}

/// What `docker events` showed: per container, the engine's timestamp of
/// its OOM kill (ns) and when the line arrived here.
type Seen = Arc<Mutex<HashMap<String, (u128, SystemTime)>>>;

/// `docker events` for OOM kills of `project`'s containers, and the process
/// (killed by the caller: it never ends by itself).
fn watch_ooms(project: &str) -> (Seen, std::process::Child) {
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let mut child = std::process::Command::new("docker")
        .args([
            "events",
            "--filter",
            "event=oom",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--format",
            "{{.Actor.Attributes.name}} {{.TimeNano}}",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker events");
    let out = child.stdout.take().unwrap();
    let into = seen.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some((name, ns)) = line.split_once(' ') {
                if let Ok(ns) = ns.trim().parse::<u128>() {
                    into.lock()
                        .unwrap()
                        .entry(name.to_string())
                        .or_insert((ns, SystemTime::now()));
                }
            }
        }
    });
    (seen, child)
}

/// When the emulator received a message posted to a channel whose
/// content names `name` and satisfies `pred`.
fn posted_at(
    emu: &Emulator,
    clock: (Instant, SystemTime),
    pred: impl Fn(&str, &str) -> bool,
) -> Option<SystemTime> {
    emu.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .find(|r| {
            let content = r
                .json
                .as_ref()
                .and_then(|j| j["content"].as_str())
                .unwrap_or("");
            pred(&r.path, content)
        })
        .map(|r| {
            clock.1 + r.at.saturating_duration_since(clock.0)
                - clock.0.saturating_duration_since(r.at)
        })
}

fn line(what: &str, v: &mut [f64]) {
    let max = v.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "  {what:<44} median {:>6.0} ms, max {:>6.0} ms",
        percentile(v, 0.5),
        max
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run by bench/paging"]
async fn bench_paging() {
    let kills: usize = env_or("BENCH_KILLS", "10").parse().unwrap();
    let mut p = Project::new("bench-page");
    let emu = Emulator::start().await;
    let rx = Receiver::start(&[]).await;
    let url = format!("{}/v2/enqueue", rx.base);
    let oncall = ONCALL.to_string();
    let env = [
        ("INCIDENT_BOT_DISCORD__ROSTER__ON_CALL", oncall.as_str()),
        ("PAGING_WEBHOOK_URL", url.as_str()),
        ("PAGING_ROUTING_KEY", "bench"),
    ];
    let bot = Bot::start(&emu, &p.name, &env).await;
    bot.wait_log("watcher following the engine").await;
    let (ooms, mut events_cli) = watch_ooms(&p.name);
    let clock = (Instant::now(), SystemTime::now());
    let (mut events, mut pages, mut dms, mut hooks) = (vec![], vec![], vec![], vec![]);
    println!();
    for i in 0..kills {
        let name = p.start_full(
            &format!("web{i}"),
            8,
            Some(48),
            &[],
            &["--grow-mb", "16", "--every-ms", "50"],
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        let (engine_ns, cli_at) = loop {
            if let Some(seen) = ooms.lock().unwrap().get(&name).copied() {
                break seen;
            }
            assert!(Instant::now() < deadline, "{name} was never OOM-killed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let dm_channel = || {
            emu.direct_messages(ONCALL)
                .first()
                .map(|m| m["channel_id"].as_str().unwrap().to_string())
        };
        let (page, dm, hook) = loop {
            let page = posted_at(&emu, clock, |_, c| {
                c.starts_with("**Page 1**") && c.contains(&name)
            });
            let dm = dm_channel().and_then(|ch| {
                let path = format!("/api/v10/channels/{ch}/messages");
                posted_at(&emu, clock, |p, c| p == path && c.contains(&name))
            });
            let hook = rx
                .accepted()
                .iter()
                .find(|r| {
                    r.body["payload"]["summary"]
                        .as_str()
                        .unwrap_or("")
                        .contains(&name)
                })
                .map(|r| r.at);
            if let (Some(a), Some(b), Some(c)) = (page, dm, hook) {
                break (a, b, c);
            }
            assert!(
                Instant::now() < deadline,
                "{name}: not paged every way ({page:?} {dm:?} {hook:?})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        events.push(since_ns(engine_ns, cli_at));
        pages.push(since_ns(engine_ns, page));
        dms.push(since_ns(engine_ns, dm));
        hooks.push(since_ns(engine_ns, hook));
        p.remove(&name);
    }
    let _ = events_cli.kill();
    let _ = events_cli.wait();
    println!("From a real OOM kill (the engine's timestamp) to, over {kills} kills:");
    line("`docker events` showing it (reference)", &mut events);
    line("the page in the incident's thread", &mut pages);
    line("the direct message to the on-call person", &mut dms);
    line("the webhook (PagerDuty Events API v2 form)", &mut hooks);
}
