//! The watching-at-scale benchmark (ignored by the suite; `bench/scale`
//! runs it in release mode). For each size N, side by side in one run:
//! the terminal `mem status` against `docker stats --no-stream` on the
//! same containers; the engine's CPU idle and while `docker stats` streams
//! the same containers, and what the bot watching them adds (paired
//! windows, the bot paused and watching); then, with
//! containers created and removed meanwhile, `/mem status` at 20
//! commands/s through the Discord emulator (latency
//! from the interaction to the final answer, failures, the age of the data
//! answered) and the bot's peak resident memory.
//!
//! A benchmark prints figures; it asserts only that the measurements are
//! real (every answer came from live data).

use crate::discord::{Emulator, Sent, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
}

pub(crate) fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

pub(crate) fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// CPU ticks (user + system) of every process whose command is one of
/// the engine's: dockerd, containerd and the containers' shims.
fn engine_ticks() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        if comm == "dockerd" || comm.starts_with("containerd") {
            let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
            total += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
    }
    total
}

/// The engine's CPU over `window`, in % of one core.
async fn engine_cpu(window: Duration) -> f64 {
    let before = engine_ticks();
    tokio::time::sleep(window).await;
    (engine_ticks() - before) as f64 / 100.0 / window.as_secs_f64() * 100.0
}

/// Engine CPU is measured over this window, after this long to settle
/// (containers just started, or a command just run, still cost the engine).
const WINDOW: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(10);

/// The engine's CPU idle (no bot), then while `docker stats` streams the
/// same containers: what watching them the usual way costs the engine.
/// The third figure counts the errors `docker stats` printed meanwhile
/// (at hundreds of containers its streams time out).
async fn engine_idle_and_under_docker_stats(names: &[String]) -> (f64, f64, usize) {
    let idle = engine_cpu(WINDOW).await;
    let mut stats = Command::new("docker")
        .arg("stats")
        .args(names)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = stats.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr).lines().count()
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    let streaming = engine_cpu(WINDOW).await;
    let _ = stats.kill();
    let _ = stats.wait();
    tokio::time::sleep(SETTLE).await;
    (idle, streaming, errors.join().unwrap_or(0))
}

/// Paired windows of the engine's CPU with the bot paused and watching.
const PAIRS: usize = 3;

/// The engine's CPU while the bot watches minus while it is paused
/// (SIGSTOP), in paired windows taken one after the other, so the
/// engine's own drift (the shims' housekeeping moves by a few percent)
/// cancels out: the median difference and the range of the pairs.
async fn watching_overhead(pid: u32) -> (f64, (f64, f64)) {
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    };
    let mut diffs = Vec::new();
    for _ in 0..PAIRS {
        signal("-STOP");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let paused = engine_cpu(WINDOW).await;
        signal("-CONT");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let watching = engine_cpu(WINDOW).await;
        diffs.push(watching - paused);
    }
    let range = (
        diffs.iter().copied().fold(f64::INFINITY, f64::min),
        diffs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    (percentile(&mut diffs, 0.5), range)
}

/// The bot's peak resident memory (VmHWM), MiB.
fn peak_rss(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

/// Medians of `runs` alternating runs of the terminal command and of
/// `docker stats --no-stream` on the same containers. Each starts on a
/// quiet engine: `docker stats` leaves hundreds of stats collectors
/// winding down for a moment, which would slow whatever runs next.
fn terminal_vs_docker_stats(project: &str, names: &[String], runs: usize) -> (f64, f64) {
    let quiet = || std::thread::sleep(Duration::from_secs(2));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..=runs {
        quiet();
        let t = Instant::now();
        let out = bot(&["mem", "status", "--project", project], &[]);
        let o = ms(t);
        assert!(stdout(&out).contains("cgroup files"), "{}", stdout(&out));
        quiet();
        let t = Instant::now();
        let mut args = vec!["stats", "--no-stream"];
        args.extend(names.iter().map(String::as_str));
        let out = docker(&args);
        let d = ms(t);
        assert!(out.status.success());
        if i > 0 {
            ours.push(o);
            theirs.push(d);
        }
    }
    (percentile(&mut ours, 0.5), percentile(&mut theirs, 0.5))
}

/// Creates and removes one container of the project every 500 ms until
/// `stop`, on a thread of its own (the CLI blocks).
fn churn(
    project: &str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let project = project.to_string();
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let name = format!("{project}-churn{n}-1");
            let _ = try_docker(&[
                "run",
                "-d",
                "--name",
                &name,
                "--label",
                TEST_LABEL,
                &format!("--label=com.docker.compose.project={project}"),
                &format!("--label=com.docker.compose.service=churn{n}"),
                IMAGE,
                "--mb",
                "1",
            ]);
            std::thread::sleep(Duration::from_millis(250));
            let _ = try_docker(&["rm", "-f", &name]);
            std::thread::sleep(Duration::from_millis(250));
            n += 1;
        }
        n
    })
}

/// The oldest age in a report's footer ("…, 0.4 s old", "…, 0.1-0.9 s old").
fn footer_age(footer: &str) -> Option<f64> {
    footer
        .split(" s old")
        .next()?
        .rsplit([' ', '-'])
        .next()?
        .parse()
        .ok()
}

/// `rate` commands a second for `secs`; (latencies ms, ages s, failures).
async fn load(emu: &Emulator, rate: u32, secs: u64) -> (Vec<f64>, Vec<f64>, usize) {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    let mut sent: Vec<Sent> = Vec::new();
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        tick.tick().await;
        sent.push(emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let requests = emu.requests();
    let (mut lat, mut ages, mut failed) = (Vec::new(), Vec::new(), 0);
    for s in &sent {
        let edit = requests.iter().find(|r| is_original_edit(r, &s.token));
        let footer = edit
            .and_then(|e| e.json.as_ref())
            .and_then(|j| j["embeds"][0]["footer"]["text"].as_str().map(String::from));
        match (edit, footer.as_deref().and_then(footer_age)) {
            (Some(e), Some(age)) => {
                lat.push(e.at.duration_since(s.at).as_secs_f64() * 1000.0);
                ages.push(age);
            }
            _ => failed += 1,
        }
    }
    (lat, ages, failed)
}

async fn one_size(n: usize, runs: usize) {
    let mut p = Project::new("bench");
    println!("\n== {n} containers");
    let names = p.start_many(n, 1);
    // Containers just started keep the engine busy for a while; both
    // tools are timed once it has settled.
    tokio::time::sleep(SETTLE).await;
    let (ours, theirs) = terminal_vs_docker_stats(&p.name, &names, runs);
    println!("terminal mem status {ours:8.1} ms   docker stats --no-stream {theirs:8.1} ms   {:.0}x faster (medians of {runs})", theirs / ours);
    let (idle, streaming, stats_errors) = engine_idle_and_under_docker_stats(&names).await;
    println!(
        "engine CPU (dockerd, containerd, shims; {} s windows): idle {idle:.1}%   docker stats streaming {streaming:.1}% (overhead {:.1}% of a core; {stats_errors} errors printed)",
        WINDOW.as_secs(),
        streaming - idle
    );
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    mem(&emu, "status", vec![]).await;
    tokio::time::sleep(SETTLE).await;
    let (median, spread) = watching_overhead(bot.pid()).await;
    println!(
        "engine CPU caused by the bot watching: {median:.1}% of a core (median of {PAIRS} paired windows; the pairs ranged {:.1}% to {:.1}%)",
        spread.0, spread.1
    );
    // The pauses may have cost the gateway session: answered again first.
    mem(&emu, "status", vec![]).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churner = churn(&p.name, stop.clone());
    let (mut lat, mut ages, failed) = load(&emu, 20, 15).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let churned = churner.join().unwrap();
    println!(
        "/mem status at 20/s under churn ({churned} containers created and removed): {} answered, {failed} failed; p50 {:.1} ms p99 {:.1} ms; data age p99 {:.2} s",
        lat.len(),
        percentile(&mut lat.clone(), 0.5),
        percentile(&mut lat, 0.99),
        percentile(&mut ages, 0.99)
    );
    println!("bot peak RSS (VmHWM) {:.1} MiB", peak_rss(bot.pid()));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run by bench/scale"]
async fn bench_scale() {
    let runs: usize = env_or("RUNS", "5").parse().unwrap();
    for n in env_or("BENCH_SIZES", "50 200 500").split_whitespace() {
        one_size(n.parse().unwrap(), runs).await;
    }
}
