//! `/mem verify` through the real bot: each checklist item fails when its
//! condition is broken (a container the OOM killer took, a growing
//! workload, a health endpoint that is down) and the list passes, offering
//! to resolve the incident, when everything holds.

use crate::discord::{Emulator, Slash, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use serde_json::json;

/// A health endpoint answering 200 to anything, on a free port.
async fn healthy() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    format!("http://{addr}/health")
}

fn item_line<'a>(description: &'a str, text: &str) -> &'a str {
    let start = description
        .find(&format!("**{text}**"))
        .unwrap_or_else(|| panic!("{text} in {description}"));
    let line_start = description[..start].rfind('\n').map_or(0, |i| i + 1);
    let end = description[start..]
        .find("\n\n")
        .map_or(description.len(), |i| start + i);
    &description[line_start..end]
}

#[tokio::test(flavor = "multi_thread")]
async fn each_item_fails_when_its_condition_is_broken() {
    let mut p = Project::new("verify-bad");
    p.start("beat", 8, None);
    let web = p.start_with("web", 8, None, &["--grow-mb", "2", "--every-ms", "1000"]);
    let emu = Emulator::start().await;
    let bot = Bot::start(
        &emu,
        &p.name,
        // Nothing listens on port 1: the application is down.
        &[(
            "INCIDENT_BOT_VERIFY__HEALTH_URL",
            "http://127.0.0.1:1/health",
        )],
    )
    .await;
    bot.wait_log("watcher following the engine").await;
    // A worker that grows past its limit and is OOM-killed.
    let worker = p.start_with(
        "celery_worker",
        8,
        Some(48),
        &["--grow-mb", "8", "--every-ms", "50"],
    );
    bot.wait_history(2, 12).await;
    // The engine's record of the kill (its `oom` event can come before the
    // container's state says so, and then the item names the event).
    let deadline = std::time::Instant::now() + WAIT;
    while !String::from_utf8_lossy(
        &docker(&["inspect", "--format", "{{.State.OOMKilled}}", &worker]).stdout,
    )
    .contains("true")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{worker} was never OOM-killed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let body = mem(&emu, "verify", vec![]).await;
    let content = body["content"].as_str().unwrap();
    assert_eq!(content, "Not yet: 1 of 4 checks pass.", "{body:#}");
    let embed = &body["embeds"][0];
    assert_eq!(embed["color"], 0xE7_4C_3C);
    let d = embed["description"].as_str().unwrap();
    assert!(
        item_line(d, "Total memory usage < 80%").starts_with("✅"),
        "{d}"
    );
    let oom = item_line(d, "No OOM errors in logs");
    assert!(
        oom.starts_with("❌") && oom.contains(&format!("{worker} was OOM-killed")),
        "{oom}"
    );
    let stable = item_line(d, "Memory usage stable over time");
    assert!(
        stable.starts_with("❌") && stable.contains(&web) && stable.contains("MiB/hour"),
        "{stable}"
    );
    let up = item_line(d, "Application responsive");
    assert!(
        up.starts_with("❌") && up.contains("GET http://127.0.0.1:1/health failed"),
        "{up}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn all_green_offers_to_resolve_the_incident() {
    let url = healthy().await;
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app(
        "verify-good",
        &[("web", 8, None)],
        &[("INCIDENT_BOT_VERIFY__HEALTH_URL", url.as_str())],
    )
    .await;
    // An open incident for it to offer resolving.
    let sent = emu
        .slash(Slash {
            command: "incident".into(),
            subcommand: Some("open".into()),
            options: vec![("title".into(), json!("web memory"))],
            member: responder(),
            channel_id: INCIDENT_CHANNEL_ID,
        })
        .await;
    emu.wait_for(WAIT, |r| crate::harness::is_original_edit(r, &sent.token))
        .await;
    bot.wait_history(1, 12).await;

    let body = mem(&emu, "verify", vec![]).await;
    let content = body["content"].as_str().unwrap();
    assert!(
        content.starts_with("All 4 checks pass: incident #1 can be resolved"),
        "{body:#}"
    );
    let d = body["embeds"][0]["description"].as_str().unwrap();
    assert_eq!(d.matches('✅').count(), 4, "{d}");
    assert!(
        item_line(d, "Application responsive").contains(": 200 in"),
        "{d}"
    );
}
