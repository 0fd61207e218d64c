//! Runbook step 4 and its remedy against a real PostgreSQL playing the
//! monitored application's database: real client sessions left idle in a
//! transaction are counted, broken down, and closed only after approval.

use crate::harness::*;
use serde_json::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn connections_are_counted_broken_down_and_judged() {
    let app = TestDb::create().await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(session(&app.url, None, "celery-worker", true).await);
    }
    held.push(session(&app.url, None, "gunicorn-web", false).await);
    // Idle in a transaction for longer than the (lowered) warning age.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app(
        "none",
        &[],
        &[
            ("MONITORED_DATABASE_URL", app.url.as_str()),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__CONNECTIONS__MAX_CONNECTIONS",
                "4",
            ),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__CONNECTIONS__IDLE_IN_TRANSACTION_WARN_SECS",
                "1",
            ),
        ],
    )
    .await;
    let body = mem(&emu, "connections", vec![]).await;
    let embed = &body["embeds"][0];
    assert_eq!(
        embed["color"], 0xE7_4C_3C,
        "4 sessions at a bar of 4: {embed:#}"
    );
    let field = |name: &str| {
        embed["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert!(
        field("Verdict").contains("Connection pool may be exhausted"),
        "{embed:#}"
    );
    assert_eq!(
        field("Expected"),
        "< 100 connections (here: idle_in_transaction_warn_secs = 1, max_connections = 4)",
        "the runbook's words, and the bars in force"
    );
    let observed = field("Observed");
    assert!(observed.starts_with("4 connections (bar 4)"), "{observed}");
    assert!(observed.contains("3 idle in transaction"), "{observed}");
    assert!(
        field("Offenders").contains("3 sessions idle in a transaction"),
        "{embed:#}"
    );
    let table = embed["description"].as_str().unwrap();
    for needle in [
        "idle in transaction  3",
        "celery-worker",
        "gunicorn-web",
        "IDLE IN TRANSACTION (oldest first)",
    ] {
        assert!(table.contains(needle), "{needle:?} in\n{table}");
    }
    assert!(
        embed["footer"]["text"]
            .as_str()
            .unwrap()
            .contains("application's database"),
        "{embed:#}"
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_or_missing_database_is_one_sentence() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app(
        "none",
        &[],
        &[(
            "MONITORED_DATABASE_URL",
            "postgres://app:pw@127.0.0.1:1/rota_cc",
        )],
    )
    .await;
    let body = mem(&emu, "connections", vec![]).await;
    let content = body["content"].as_str().unwrap();
    assert!(
        content.starts_with("Could not run /mem connections: the application's database at 127.0.0.1:1/rota_cc is unreachable"),
        "{content}"
    );
    assert!(!content.contains("pw"), "no password in chat: {content}");
    drop(bot);

    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("none", &[], &[]).await;
    let body = mem(&emu, "connections", vec![]).await;
    assert!(
        body["content"]
            .as_str()
            .unwrap()
            .contains("set MONITORED_DATABASE_URL"),
        "{body}"
    );
}

/// A login role that is not a superuser, unique to this test.
async fn app_role(db: &TestDb) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let role = format!(
        "ib_app_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    db.client()
        .await
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .unwrap();
    role
}

/// Whether session `pid` is still connected.
async fn alive(db: &TestDb, pid: i32) -> bool {
    db.client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
        == 1
}

async fn pid(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

/// The request's Target lists the two workers' sessions `workers`, and not
/// the superuser's session `superuser`.
fn assert_targets_only(request: &Value, workers: [i32; 2], superuser: i32) {
    let summary = request["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Target")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    for pid in workers {
        assert!(
            summary.contains(&format!("pid {pid} celery-worker")),
            "{summary}"
        );
    }
    assert!(
        !summary.contains(&superuser.to_string()) && !summary.contains("admin-console"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_transactions_are_closed_only_after_approval_and_never_a_superusers() {
    let app = TestDb::create().await;
    let role = app_role(&app).await;
    // Two application sessions idle in a transaction, an idle one (not in a
    // transaction) and a superuser's idle in a transaction.
    let worker_a = session(&app.url, Some(&role), "celery-worker", true).await;
    let worker_b = session(&app.url, Some(&role), "celery-worker", true).await;
    let web = session(&app.url, Some(&role), "gunicorn-web", false).await;
    let admin = session(&app.url, None, "admin-console", true).await;
    let (a, b, w, s) = (
        pid(&worker_a).await,
        pid(&worker_b).await,
        pid(&web).await,
        pid(&admin).await,
    );

    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("none", &[], &[("MONITORED_DATABASE_URL", app.url.as_str())]).await;
    let (text, request) = request_action(
        &emu,
        "close-idle",
        vec![
            ("older_than".into(), serde_json::json!(0)),
            ("reason".into(), serde_json::json!("pool exhausted")),
        ],
    )
    .await;
    assert!(
        text.contains("to close 2 idle database sessions older than 0 min"),
        "{text}"
    );
    assert_targets_only(&request, [a, b], s);
    // Nothing is closed on one person's word.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(alive(&app, a).await && alive(&app, b).await);

    let outcome = approve(&emu, &request).await;
    assert!(outcome.contains("closed 2 sessions"), "{outcome}");
    assert!(
        outcome.contains(&format!("pid {a} celery-worker"))
            && outcome.contains(&format!("pid {b} celery-worker")),
        "{outcome}"
    );
    assert!(outcome.contains("Next: /mem connections"), "{outcome}");
    assert!(
        !alive(&app, a).await && !alive(&app, b).await,
        "the idle transactions are gone"
    );
    assert!(
        alive(&app, w).await,
        "a plain idle session stays (include_idle = false)"
    );
    assert!(
        alive(&app, s).await,
        "a superuser's session is never closed"
    );
    assert!(worker_a.batch_execute("SELECT 1").await.is_err());
    drop((web, admin));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_terminal_command_reads_the_same_sessions() {
    let app = TestDb::create().await;
    let _a = session(&app.url, None, "celery-worker", true).await;
    let _b = session(&app.url, None, "gunicorn-web", false).await;
    let url = app.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::harness::bot(
            &["mem", "connections", "--json"],
            &[("MONITORED_DATABASE_URL", url.as_str())],
        )
    })
    .await
    .unwrap();
    let json: Value = serde_json::from_str(&crate::harness::stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}", crate::harness::stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(json["check"], "connections");
    assert_eq!(json["total"], 2, "the bot's own session is not counted");
    assert_eq!(json["source"]["from"], "app_database");
    assert!(
        !crate::harness::stdout(&out).contains("postgres://"),
        "no URL in the output"
    );
}
