//! The bot under faults an operator meets: its database stopped and
//! started under it, the bot killed in the middle of an approved restart,
//! a real OOM crash loop, and a flood of strangers on its HTTP port.

mod checks;

use crate::discord::{Emulator, Slash, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use checks::{
    one_report_with_the_count_and_its_chart, said_and_free_again, settled_state, wait_kills_counted,
};
use serde_json::json;
use std::time::{Duration, Instant};

/// Polls `f` every 100 ms until it holds, for at most `within`.
async fn eventually(within: Duration, what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn open_incident(title: &str) -> Slash {
    Slash {
        command: "incident".into(),
        subcommand: Some("open".into()),
        options: vec![("title".into(), json!(title))],
        member: responder(),
        channel_id: INCIDENT_CHANNEL_ID,
    }
}

/// The reply's text, deferred or direct.
async fn answer(emu: &Emulator, s: Slash) -> String {
    let j = answer_json(emu, s).await;
    j["content"]
        .as_str()
        .or(j["data"]["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn health_follows_the_database_down_and_up_again() {
    let pg = OwnPostgres::start();
    let emu = Emulator::start().await;
    let bot = Bot::start_on(&emu, "ibt-none", &[], &pg.url("x")).await;
    bot.wait_log("database ready").await;
    let base = bot.http_base().await;
    let metric = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("incident_bot_database_up "))
            .map(|l| l.to_string())
    };
    eventually(WAIT, "readyz says the database is up", async || {
        get(&format!("{base}/readyz"))
            .await
            .1
            .contains("database: up")
    })
    .await;

    pg.down();
    let stopped = Instant::now();
    eventually(
        Duration::from_secs(6),
        "readyz sees the database go",
        async || {
            let (status, body) = get(&format!("{base}/readyz")).await;
            status == 503 && body.contains("database: down")
        },
    )
    .await;
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(
        metric(&metrics).as_deref(),
        Some("incident_bot_database_up 0")
    );
    // A command that must be recorded waits briefly, then says so.
    let said = answer(&emu, open_incident("while down")).await;
    assert!(said.contains("is not reachable right now"), "{said}");
    // Several seconds of outage: the loops that tick twice a second do not
    // log twice a second.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(stopped.elapsed())).await;

    pg.up();
    eventually(
        Duration::from_secs(8),
        "readyz sees the database back",
        async || {
            let (status, body) = get(&format!("{base}/readyz")).await;
            status == 200 && body.contains("database: up")
        },
    )
    .await;
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(
        metric(&metrics).as_deref(),
        Some("incident_bot_database_up 1")
    );
    let said = answer(&emu, open_incident("after the outage")).await;
    assert!(said.starts_with("Opened incident #1"), "{said}");
    let log = std::fs::read_to_string(&bot.log).unwrap();
    let warnings = log
        .lines()
        .filter(|l| l.contains("WARN"))
        .filter(|l| l.contains("database") || l.contains("check failed"))
        .count();
    // At most one line per loop that met the outage before the health
    // probe noticed it (escalations, history pruning, paging, re-checks,
    // expiry) and the health line itself.
    assert!(
        warnings <= 6,
        "the outage is said once, not per tick:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bot_killed_mid_restart_leaves_nothing_stuck() {
    let mut p = Project::new("crash-mid");
    let web = p.start("web", 16, None);
    let before = started_at(&web);
    let emu = Emulator::start().await;
    // A long settle: the bot waits after the engine restarted the
    // container, before it records the outcome. It is killed in between.
    let env = [
        ("INCIDENT_BOT_APPROVALS__LEASE_SECS", "2"),
        ("INCIDENT_BOT_APPROVALS__SETTLE_SECS", "10"),
    ];
    let mut bot = Bot::start(&emu, &p.name, &env).await;
    let db = bot.db.take().unwrap();
    let (msg, _) = request_restart(&emu, "web").await;
    click(&emu, msg, "approve", bob(), false).await;
    let deadline = Instant::now() + WAIT;
    while started_at(&web) == before {
        assert!(Instant::now() < deadline, "the restart never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bot.kill();
    let client = db.client().await;
    let state: String = client
        .query_one("SELECT state FROM action_requests WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "approved", "the bot died executing it");

    // A new bot on the same database reconciles it: it looks at the
    // container and records what happened.
    let started = Instant::now();
    let mut again = Bot::start_on(&emu, &p.name, &env, &db.url).await;
    again.db = Some(db);
    let text = settled_state(&emu, msg).await;
    assert!(
        text.contains("stopped before recording the outcome"),
        "{text}"
    );
    let (state, claimed): (String, time::OffsetDateTime) = {
        let row = client
            .query_one(
                "SELECT state, claimed_at FROM action_requests WHERE id = 1",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    // What is recorded is what the container shows: restarted after the
    // claim. (A restart that never happened is judged failed once the
    // action's own time limit has passed: `core::approval::reconcile`.)
    assert_eq!(state, "executed", "{text} (claimed {claimed})");
    assert!(text.contains("was restarted at"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "reconciled within the lease and a sweep: {:?}",
        started.elapsed()
    );
    said_and_free_again(&emu, &again).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn approvals_past_the_rate_limit_are_refused_with_the_claim() {
    let TestApp {
        project: p,
        emu,
        bot,
    } = spawn_app("rate-claim", &[("web", 16, None)], &[]).await;
    let web = p.container("web");
    let before = started_at(&web);
    let (msg, _) = request_restart(&emu, "web").await;
    // Between the request and the approval, the service reached its limit
    // (restarts by other requests, here written directly).
    bot.db
        .as_ref()
        .unwrap()
        .client()
        .await
        .batch_execute(
            "INSERT INTO action_requests (runbook, action, service, container_id, container_name,
                 target_summary, reason, requested_by, requested_by_label, requested_at,
                 expires_at, approvals_needed, state, executed_at)
             SELECT 'mem', 'restart', 'web', 'x', 'x', 'x', 'x', 1, 'x', now(), now(), 1,
                    'executed', now() - interval '10 minutes'
             FROM generate_series(1, 3)",
        )
        .await
        .unwrap();
    click(&emu, msg, "approve", bob(), false).await;
    let state = wait_state(&emu, msg, "Approved by bob (<@9003>), but failed").await;
    assert!(
        state.contains("restarted 3 times in the last hour"),
        "{state}"
    );
    assert_eq!(started_at(&web), before, "nothing was restarted");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oom_crash_loop_is_one_incident_one_report_and_pages_at_once() {
    let mut p = Project::new("crashloop");
    let emu = Emulator::start().await;
    // The grace window as shipped (10 s): the loop must be seen before it
    // ends, from the restart count, not after one late look. (The alert
    // resolves only after two minutes without a kill: not during the test.)
    let env = [("INCIDENT_BOT_ESCALATION__OOM_GRACE_SECS", "10")];
    let bot = Bot::start(&emu, &p.name, &env).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let worker = p.start_full(
        "celery_worker",
        8,
        Some(48),
        &["--restart", "always"],
        &["--grow-mb", "16", "--every-ms", "50"],
    );
    let first_kill = Instant::now();
    let thread = bot.wait_incident_thread().await;
    let pings = wait_escalations(&emu, thread, 1).await;
    let paged_after = first_kill.elapsed();
    let text = pings[0]["content"].as_str().unwrap();
    assert!(text.contains("(DevOps Lead)"), "{text}");
    assert!(text.contains("is restarting in a loop"), "{text}");
    assert!(
        paged_after < Duration::from_secs(9),
        "paged {paged_after:?} after the first kill, within the grace window"
    );
    // Several more kills happen; they are counted on the one report.
    let db = bot.db.as_ref().unwrap().client().await;
    wait_kills_counted(&db, 4).await;
    one_report_with_the_count_and_its_chart(&emu).await;
    let in_thread = emu.messages_in(thread);
    assert!(
        !in_thread
            .iter()
            .any(|m| m["content"].as_str().unwrap_or("").contains("resolved")),
        "a kill followed by a start resolves nothing"
    );
    let incidents: i64 = db
        .query_one("SELECT count(*) FROM incidents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(incidents, 1);
    assert_eq!(wait_escalations(&emu, thread, 1).await.len(), 1);
    p.remove(&worker);
}

#[tokio::test(flavor = "multi_thread")]
async fn strangers_on_the_http_port_cannot_grow_the_audit_log() {
    let emu = Emulator::start().await;
    let env = [
        ("ALERTMANAGER_TOKEN", "right-token-123"),
        ("INCIDENT_BOT_HTTP__REFUSAL_AUDIT_SECS", "1"),
    ];
    let bot = Bot::start(&emu, "ibt-none", &env).await;
    let url = format!("{}/alertmanager", bot.http_base().await);
    let client = reqwest::Client::new();
    const FLOOD: usize = 2000;
    let sent = futures_util::future::join_all((0..FLOOD).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let mut r = client.post(&url).body("{}");
            if i % 2 == 0 {
                r = r.header("authorization", "Bearer guess");
            }
            r.send().await.map(|r| r.status().as_u16())
        }
    }))
    .await;
    // (Concurrency is bounded by the client's pool, on loopback.)
    assert!(sent.iter().all(|s| matches!(s, Ok(401))), "all refused");
    // A large body without the token is refused before it is read.
    let big = vec![b'x'; 8 << 20];
    let r = client.post(&url).body(big.clone()).send().await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 401);
    }
    // With the token, a body over the limit is refused and audited. (The
    // bot answers before the body is all sent and closes: the client may
    // see its write fail instead of the 413; the audit below says which.)
    let r = client
        .post(&url)
        .header("authorization", "Bearer right-token-123")
        .body(big)
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }

    let db = bot.db.as_ref().unwrap().client().await;
    let deadline = Instant::now() + WAIT;
    let (rows, counted) = loop {
        let rows: Vec<(String, i64)> = db
            .query(
                "SELECT result, coalesce((detail->>'count')::bigint, 1) FROM audit_log
                 WHERE action = 'POST /alertmanager' AND actor LIKE 'http:%'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let counted: i64 = rows.iter().map(|r| r.1).sum();
        if counted >= FLOOD as i64 || Instant::now() > deadline {
            break (rows, counted);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(counted >= FLOOD as i64, "every refusal counted: {rows:#?}");
    assert!(
        rows.len() <= 10,
        "a few rows, not {}: {rows:#?}",
        rows.len()
    );
    let too_large: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE result LIKE 'refused: the body is not%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(too_large, 1);
    let (_, metrics) = get(&url.replace("alertmanager", "metrics")).await;
    assert!(
        metrics.contains("result=\"unauthorized\""),
        "counted in /metrics"
    );
}
