//! The fleet benchmark (ignored by the suite; `bench/fleet` runs it in
//! release mode). For 1, 2 and 3 nodes (each a real engine with N
//! containers, N = 100 by default, and a bot process beside it, all on
//! one database): `/mem status` for the whole fleet through the Discord
//! emulator (p50/p99, from the interaction to the final answer) against
//! what users would otherwise run, `docker stats --no-stream` on every
//! host one after the other; and the database load of the nodes idling
//! (transactions/s and rows written/s, per node). Then, at the largest
//! size, the failover of the gateway lease over repeated SIGKILLs of its
//! holder: time to a new session and to the next answer (median/max).
//!
//! A benchmark prints figures; it asserts only that they are real (every
//! answer covered every host).

use crate::bench::{env_or, ms, percentile};
use crate::discord::{Emulator, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use std::time::{Duration, Instant};

fn node_env<'a>(node: &'a str, host: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("INCIDENT_BOT_FLEET__ENABLED", "true"),
        ("INCIDENT_BOT_FLEET__NODE", node),
        ("DOCKER_HOST", host),
        // The shipped defaults, not the test harness's faster ones: the
        // database load is what a deployment would see.
        ("INCIDENT_BOT_WATCH__HISTORY_STEP_SECS", "10"),
        ("INCIDENT_BOT_WATCH__PERSIST_SECS", "60"),
        ("INCIDENT_BOT_APPROVALS__EXPIRY_CHECK_SECS", "5"),
        (
            "RUST_LOG",
            "warn,incident_bot::app::fleet=info,incident_bot::chat=info,incident_bot::health=info",
        ),
    ]
}

/// Transactions and rows written (inserted, updated, deleted) in the
/// bot's database so far.
async fn db_counters(db: &TestDb) -> (f64, f64) {
    let c = db.client().await;
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let r = c
        .query_one(
            "SELECT (xact_commit + xact_rollback)::float8,
                    (tup_inserted + tup_updated + tup_deleted)::float8
             FROM pg_stat_database WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

/// Median of `runs` times `docker stats --no-stream` run against every
/// engine of `hosts` in turn, ms.
fn docker_stats_everywhere(hosts: &[String], runs: usize) -> f64 {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for h in hosts {
            let out = std::process::Command::new("timeout")
                .args(["120", "docker", "stats", "--no-stream"])
                .env("DOCKER_HOST", h)
                .output()
                .unwrap();
            assert!(out.status.success(), "docker stats on {h}");
        }
        times.push(ms(t));
    }
    percentile(&mut times, 0.5)
}

/// `/mem status` `n` times, one after the other: latencies in ms.
async fn status_latency(emu: &Emulator, n: usize, hosts: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
        let r = emu
            .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
            .await;
        out.push(ms(t));
        let text = r.json.unwrap().to_string();
        assert!(text.contains(&format!("{hosts} host")), "{text}");
    }
    out
}

/// One fleet of `k` nodes with `per_node` containers each; returns the
/// running pieces for the failover part.
async fn one_size(
    k: usize,
    per_node: usize,
    samples: usize,
) -> (
    Emulator,
    TestDb,
    Vec<Bot>,
    Vec<ExtraEngine>,
    Project,
    Vec<String>,
) {
    let mut project = Project::new("bfleet");
    project.start_many(per_node, 4);
    let engines: Vec<ExtraEngine> = (1..k).map(|_| ExtraEngine::start()).collect();
    for e in &engines {
        e.run_many(&project.name, per_node, 4);
    }
    let default_host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let hosts: Vec<String> = std::iter::once(default_host)
        .chain(engines.iter().map(|e| e.host.clone()))
        .collect();
    let names: Vec<String> = (1..=k).map(|i| format!("n{i}")).collect();
    let emu = Emulator::start().await;
    let db = TestDb::create().await;
    let mut bots = vec![
        Bot::start_on(
            &emu,
            &project.name,
            &node_env(&names[0], &hosts[0]),
            &db.url,
        )
        .await,
    ];
    for i in 1..k {
        bots.push(Bot::spawn_on(
            &emu,
            &project.name,
            &node_env(&names[i], &hosts[i]),
            &db.url,
        ));
    }
    let client = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM node_samples WHERE at IS NOT NULL",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n as usize >= k * per_node {
            break;
        }
        assert!(Instant::now() < deadline, "only {n} rows published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Warm up, then measure.
    status_latency(&emu, 5, k).await;
    let mut lat = status_latency(&emu, samples, k).await;
    let stats = docker_stats_everywhere(&hosts, 5);
    let (p50, p99) = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));
    // The database load of the fleet doing nothing but watching.
    let window = Duration::from_secs(20);
    let before = db_counters(&db).await;
    tokio::time::sleep(window).await;
    let after = db_counters(&db).await;
    let secs = window.as_secs_f64();
    let xacts = (after.0 - before.0) / secs;
    let rows = (after.1 - before.1) / secs;
    println!(
        "nodes {k} × {per_node} containers: /mem status p50 {p50:.1} ms, p99 {p99:.1} ms ({samples} commands); \
         docker stats --no-stream on each host in turn {stats:.0} ms ({:.0}× the p50); \
         database {xacts:.1} transactions/s and {rows:.0} rows written/s in all, {:.1} and {:.0} per node",
        stats / p50,
        xacts / k as f64,
        rows / k as f64,
    );
    (emu, db, bots, engines, project, names)
}

/// SIGKILLs the gateway holder `kills` times, restarting it as a standby
/// each time: seconds to a new session, and to the next answer.
async fn failover(
    emu: &Emulator,
    db: &TestDb,
    bots: &mut [Bot],
    project: &str,
    names: &[String],
    hosts: &[String],
    kills: usize,
) {
    let mut to_session = Vec::new();
    let mut to_answer = Vec::new();
    for _ in 0..kills {
        let client = db.client().await;
        let holder: String = client
            .query_one("SELECT holder FROM leases WHERE name = 'gateway'", &[])
            .await
            .unwrap()
            .get(0);
        let i = names.iter().position(|n| *n == holder).unwrap();
        let sessions = emu.identify_count();
        let t = Instant::now();
        bots[i].kill();
        while emu.identify_count() == sessions {
            assert!(t.elapsed() < Duration::from_secs(60), "no takeover");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        to_session.push(t.elapsed().as_secs_f64());
        let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
        emu.wait_for(WAIT, |r| is_original_edit(r, &sent.token))
            .await;
        to_answer.push(t.elapsed().as_secs_f64());
        bots[i] = Bot::spawn_on(emu, project, &node_env(&names[i], &hosts[i]), &db.url);
        bots[i].wait_log("database ready").await;
    }
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!(
        "failover over {kills} SIGKILLs of the gateway holder (fleet.lease_secs 10): new session median {:.1} s, max {:.1} s; next /mem status answered median {:.1} s, max {:.1} s",
        percentile(&mut to_session.clone(), 0.5),
        max(&to_session),
        percentile(&mut to_answer.clone(), 0.5),
        max(&to_answer),
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run by bench/fleet"]
async fn bench_fleet() {
    let per_node: usize = env_or("BENCH_PER_NODE", "100").parse().unwrap();
    let samples: usize = env_or("BENCH_SAMPLES", "100").parse().unwrap();
    let kills: usize = env_or("BENCH_KILLS", "10").parse().unwrap();
    let max_nodes: usize = env_or("BENCH_NODES", "3").parse().unwrap();
    // The harness prints "test bench_fleet ... " without a newline first.
    println!();
    for k in 1..max_nodes {
        drop(one_size(k, per_node, samples).await);
    }
    let (emu, db, mut bots, engines, project, names) = one_size(max_nodes, per_node, samples).await;
    let hosts: Vec<String> = std::iter::once(
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into()),
    )
    .chain(engines.iter().map(|e| e.host.clone()))
    .collect();
    // A takeover needs a standby.
    if max_nodes > 1 {
        failover(&emu, &db, &mut bots, &project.name, &names, &hosts, kills).await;
    }
}
