//! `/mem causes` ranks the runbook's root causes by live evidence from real
//! workloads and a real database; `/mem runbook` shows the document.

use crate::discord::{Emulator, Slash, INCIDENT_CHANNEL_ID};
use crate::harness::*;

fn first_cause(body: &serde_json::Value) -> String {
    let d = body["embeds"][0]["description"].as_str().unwrap();
    d.lines().next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_growing_workload_puts_the_memory_leak_first() {
    let mut p = Project::new("causes-leak");
    p.start_with("web", 8, None, &["--grow-mb", "2", "--every-ms", "1000"]);
    p.start("beat", 8, None);
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    bot.wait_history(2, 12).await;
    let body = mem(&emu, "causes", vec![]).await;
    let first = first_cause(&body);
    assert!(
        first.starts_with("**1. Memory leak in long-running process**"),
        "{body:#}"
    );
    let fields = body["embeds"][0]["fields"].to_string();
    // The top cause's resolution, as the runbook gives it.
    assert!(fields.contains("For Memory Leaks"), "{fields}");
    assert!(fields.contains("`/mem restart`"), "{fields}");
    assert!(fields.contains("tracemalloc.start()"), "{fields}");
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_near_the_bar_put_the_pool_first() {
    let mut p = Project::new("causes-pool");
    p.start("web", 8, None);
    let app = TestDb::create().await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(session(&app.url, None, "celery-worker", true).await);
    }
    let emu = Emulator::start().await;
    let bot = Bot::start(
        &emu,
        &p.name,
        &[
            ("MONITORED_DATABASE_URL", app.url.as_str()),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__CONNECTIONS__MAX_CONNECTIONS",
                "4",
            ),
        ],
    )
    .await;
    bot.wait_history(1, 12).await;
    let body = mem(&emu, "causes", vec![]).await;
    let first = first_cause(&body);
    assert!(
        first.starts_with("**1. Connection pool too large**"),
        "{body:#}"
    );
    let d = body["embeds"][0]["description"].as_str().unwrap();
    assert!(
        d.contains("4 connections (bar 4); 4 idle in a transaction"),
        "{d}"
    );
    assert!(body["embeds"][0]["fields"]
        .to_string()
        .contains("`/mem close-idle`"));
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runbook_shows_each_step_with_its_command() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("none", &[], &[]).await;
    let sent = emu
        .slash(Slash {
            command: "mem".into(),
            subcommand: Some("runbook".into()),
            options: vec![],
            member: responder(),
            channel_id: INCIDENT_CHANNEL_ID,
        })
        .await;
    let r = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    let data = &r.json.as_ref().unwrap()["data"];
    let embeds = data["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 4);
    assert_eq!(embeds[0]["title"], "Runbook: Memory Issues");
    let first = embeds[0]["description"].as_str().unwrap();
    assert!(
        first.contains("**1. Check current memory usage** → `/mem status`"),
        "{first}"
    );
    assert!(first.contains("`docker stats --no-stream`"), "{first}");
    assert!(embeds[2]["description"]
        .as_str()
        .unwrap()
        .contains("`/mem restart-workers` (needs approval)"));
}
