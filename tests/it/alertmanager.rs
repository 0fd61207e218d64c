//! Alertmanager intake with a real Prometheus Alertmanager (Debian package
//! `prometheus-alertmanager`) configured with a webhook receiver pointing at
//! the bot: an alert fed through its API is delivered, with the bearer
//! token, and opens the incident. Bad tokens and bad bodies are refused and
//! audited.

use crate::discord::{Emulator, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "s3cret-am-token";

/// A running Alertmanager, stopped when dropped.
struct Alertmanager {
    child: Child,
    base: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Alertmanager {
    /// Starts Alertmanager with one route: every alert to the bot's
    /// webhook, grouped and sent within a second.
    async fn start(webhook: &str) -> Alertmanager {
        let dir =
            std::env::temp_dir().join(format!("ib-am-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            r#"route:
  receiver: bot
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: bot
    webhook_configs:
      - url: {webhook}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {TOKEN}
"#
        );
        std::fs::write(dir.join("alertmanager.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // One instance: no gossip port.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus-alertmanager (Debian package) is installed");
        let am = Alertmanager {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: TempDir(dir.clone()),
        };
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = reqwest::get(format!("{}/-/ready", am.base)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return am;
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager never got ready: {}",
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fires an alert through Alertmanager's own API.
    async fn fire(&self, labels: serde_json::Value, summary: &str) {
        self.post_alert(
            serde_json::json!([{ "labels": labels, "annotations": { "summary": summary } }]),
        )
        .await;
    }

    /// Resolves an alert fired with `labels` (its end set in the past).
    async fn resolve(&self, labels: serde_json::Value) {
        let ended = (time::OffsetDateTime::now_utc() - time::Duration::seconds(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        self.post_alert(serde_json::json!([{ "labels": labels, "endsAt": ended }]))
            .await;
    }

    async fn post_alert(&self, body: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
}

async fn post(url: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_through_alertmanager_opens_the_incident() {
    let TestApp {
        project: p,
        emu,
        bot,
    } = spawn_app("am", &[("web", 8, None)], &[("ALERTMANAGER_TOKEN", TOKEN)]).await;
    let base = bot.http_base().await;
    let am = Alertmanager::start(&format!("{base}/alertmanager")).await;

    am.fire(
        serde_json::json!({"alertname": "HighMemoryUsage", "service": "web", "project": p.name, "severity": "critical"}),
        "web over 500 MB for 5 minutes (from Prometheus)",
    )
    .await;
    let opened = emu
        .wait_until(WAIT, "the incident opened by the alert", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID).into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("opened by the HighMemoryUsage alert")
            })
        })
        .await;
    assert!(
        opened["content"]
            .as_str()
            .unwrap()
            .contains("from Prometheus"),
        "{opened}"
    );
    let report = emu
        .wait_until(WAIT, "the report", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID).into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("**HighMemoryUsage** firing (alertmanager)")
            })
        })
        .await;
    assert!(!report["embeds"].as_array().unwrap().is_empty(), "{report}");

    // Alertmanager's delivery carried the token and was audited, and so
    // was what the alert did (rows written after the posts: wait for both).
    bot.audit_until(|rows| {
        rows.iter()
            .any(|(a, r)| a == "POST /alertmanager" && r.starts_with("accepted 1 alert"))
            && rows
                .iter()
                .any(|(a, r)| a == "alert HighMemoryUsage firing (alertmanager)" && r == "opened")
    })
    .await;
    let db = bot.db.as_ref().unwrap().client().await;
    let row = db
        .query_one("SELECT count(*), min(source) FROM alerts", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, String>(1)),
        (1, "alertmanager".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_and_bad_bodies_are_refused_and_audited() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app(
        "none",
        &[],
        &[
            ("ALERTMANAGER_TOKEN", TOKEN),
            ("INCIDENT_BOT_HTTP__REFUSAL_AUDIT_SECS", "1"),
        ],
    )
    .await;
    let url = format!("{}/alertmanager", bot.http_base().await);
    let good = format!("Bearer {TOKEN}");
    let payload = r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"OomKiller","service":"web"}}]}"#;

    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic czNjcmV0"),
        Some(TOKEN),
    ] {
        let (status, body) = post(&url, auth, payload).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert_eq!(body, "a valid bearer token is required\n");
    }
    for (body, says) in [
        ("{not json", "not an Alertmanager webhook payload"),
        (
            r#"{"version":"3","alerts":[]}"#,
            "version 3 is not supported",
        ),
    ] {
        let (status, text) = post(&url, Some(&good), body).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(says), "{text}");
    }
    // Bad bodies (with the token) are audited one by one; requests without
    // the token are counted and audited per source and interval.
    let refused_unauthenticated = |rows: &[(String, String)]| -> u32 {
        rows.iter()
            .filter(|(a, _)| a == "POST /alertmanager")
            .filter_map(|(_, r)| {
                r.strip_prefix("refused ")?
                    .split(' ')
                    .next()?
                    .parse::<u32>()
                    .ok()
                    .filter(|_| r.ends_with("missing or wrong bearer token"))
            })
            .sum()
    };
    let rows = bot
        .audit_until(|rows| {
            rows.iter()
                .filter(|(a, r)| a == "POST /alertmanager" && r.starts_with("refused: "))
                .count()
                >= 2
                && refused_unauthenticated(rows) >= 4
        })
        .await;
    assert_eq!(refused_unauthenticated(&rows), 4, "{rows:#?}");
    // Nothing was opened by any of it.
    assert!(emu.messages_in(INCIDENT_CHANNEL_ID).is_empty());
    // The bot is still up and answers.
    assert_eq!(
        crate::harness::get(&url.replace("alertmanager", "healthz"))
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oom_alert_from_alertmanager_that_left_the_service_down_escalates() {
    let mut p = Project::new("am-oom");
    let worker = p.start("celery_worker", 8, None);
    // The service is down (as an OOM kill without a restart policy leaves it).
    let stopped = docker(&["stop", "-t", "0", &worker]);
    assert!(stopped.status.success());
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[("ALERTMANAGER_TOKEN", TOKEN)]).await;
    let url = format!("{}/alertmanager", bot.http_base().await);
    let payload = serde_json::json!({
        "version": "4",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "OomKiller", "container_label_com_docker_compose_service": "celery_worker",
                       "container_label_com_docker_compose_project": p.name},
            "annotations": {"summary": "celery_worker was OOM-killed"},
            "fingerprint": "0a1b2c"
        }]
    });
    let (status, body) = post(&url, Some(&format!("Bearer {TOKEN}")), &payload.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let thread = bot.wait_incident_thread().await;
    let pings = wait_escalations(&emu, thread, 1).await;
    let text = pings[0]["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("<@{}> (DevOps Lead)", crate::harness::LEAD)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{worker} was killed by the OOM killer and is not running"
        )),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watcher_and_alertmanager_reporting_one_condition_make_one_alert() {
    let TestApp {
        project: mut p,
        emu,
        bot,
    } = spawn_app(
        "am-dedup",
        &[],
        &[
            ("ALERTMANAGER_TOKEN", TOKEN),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__HIGHMEMORYUSAGE__PROCESS_MAX_MIB",
                "24",
            ),
            (
                "INCIDENT_BOT_THRESHOLDS__MEM__HIGHMEMORYUSAGE__FOR_SECS",
                "2",
            ),
        ],
    )
    .await;
    bot.wait_log("watcher following the engine").await;
    let base = bot.http_base().await;
    let am = Alertmanager::start(&format!("{base}/alertmanager")).await;
    let web = p.start("web", 40, None);
    let reports = |emu: &crate::discord::Emulator| {
        emu.messages_in(INCIDENT_CHANNEL_ID)
            .into_iter()
            .filter(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("**HighMemoryUsage** firing")
            })
            .count()
    };
    emu.wait_until(WAIT, "the watcher's report", |emu| {
        (reports(emu) == 1).then_some(())
    })
    .await;
    // Prometheus sees the same condition: the same alert, not a second.
    let labels =
        serde_json::json!({"alertname": "HighMemoryUsage", "service": "web", "project": p.name});
    am.fire(labels.clone(), "web over the bar (from Prometheus)")
        .await;
    let db = bot.db.as_ref().unwrap().client().await;
    let deadline = Instant::now() + WAIT;
    let row = loop {
        let row = db
            .query_one(
                "SELECT count(*), max(array_to_string(sources, ',')), max(state) FROM alerts",
                &[],
            )
            .await
            .unwrap();
        let (n, s): (i64, Option<String>) = (row.get(0), row.get(1));
        if s.as_deref() == Some("bot,alertmanager") {
            break (n, row.get::<_, Option<String>>(2));
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager's report never joined: {n} {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(row, (1, Some("firing".to_string())), "one alert row");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(reports(&emu), 1, "one report");
    let incidents: i64 = db
        .query_one("SELECT count(*) FROM incidents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(incidents, 1);

    // Alertmanager says it is over; the watcher still sees it: firing.
    am.resolve(labels).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let s: String = db
            .query_one("SELECT array_to_string(sources, ',') FROM alerts", &[])
            .await
            .unwrap()
            .get(0);
        if s == "bot" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager's resolution never came: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state: String = db
        .query_one("SELECT state FROM alerts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "firing", "the other source still reports it");
    // The watcher sees it end too: now it resolves.
    p.remove(&web);
    let deadline = Instant::now() + WAIT;
    loop {
        let state: String = db
            .query_one("SELECT state FROM alerts", &[])
            .await
            .unwrap()
            .get(0);
        if state == "resolved" {
            break;
        }
        assert!(Instant::now() < deadline, "never resolved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
