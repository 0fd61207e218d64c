//! Engines watched from afar (`fleet.remote`): one bot beside the
//! machine's engine also watches two more real engines, one over TCP with
//! TLS client certificates, one through a socket (as an SSH-forwarded one
//! would be). Each appears in the fleet as a host of its own; nothing is
//! executed there; one going away is a blind spot like any host's.

use crate::discord::{Emulator, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn remote_engines_are_hosts_of_the_fleet_read_only() {
    let mut project = Project::new("remote");
    let web1 = project.start("web", 30, None);
    let certs = std::env::temp_dir().join(format!("ibt-certs-{}", std::process::id()));
    let (tls, tcp) = ExtraEngine::start_tls(&certs);
    let mut socket = ExtraEngine::start();
    let web2 = tls.run(&project.name, "web", 40);
    let web3 = socket.run(&project.name, "web", 50);
    let config = certs.join("remote.toml");
    std::fs::write(
        &config,
        format!(
            "[[fleet.remote]]\nnode = \"r2\"\nhost = \"{tcp}\"\ntls_dir = \"{}\"\n\n\
             [[fleet.remote]]\nnode = \"r3\"\nhost = \"{}\"\n",
            certs.display(),
            socket.host
        ),
    )
    .unwrap();
    let emu = Emulator::start().await;
    let db = TestDb::create().await;
    let config_path = config.to_string_lossy().into_owned();
    let bot = Bot::start_on(
        &emu,
        &project.name,
        &[
            ("INCIDENT_BOT_CONFIG", config_path.as_str()),
            ("INCIDENT_BOT_FLEET__ENABLED", "true"),
            ("INCIDENT_BOT_FLEET__NODE", "n1"),
            ("INCIDENT_BOT_FLEET__PUBLISH_MS", "500"),
            ("INCIDENT_BOT_FLEET__BLIND_AFTER_SECS", "5"),
        ],
        &db.url,
    )
    .await;

    // Every host in one report: this one's and both remote engines'.
    let deadline = Instant::now() + Duration::from_secs(60);
    let table = loop {
        let reply = mem(&emu, "status", vec![]).await;
        let t = reply["embeds"][0]["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let has =
            |host: &str, name: &str| t.lines().any(|l| l.starts_with(host) && l.contains(name));
        if has("n1", &web1) && has("r2", &web2) && has("r3", &web3) {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "not every host reported:\n{t}\n{reply:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(table.contains("HOST"), "{table}");
    let role: String = db
        .client()
        .await
        .query_one("SELECT role FROM nodes WHERE name = 'r2'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(role, "remote");

    // Nothing runs where no bot is.
    let text = action_reply(
        &emu,
        "restart",
        vec![
            ("service".into(), json!("web")),
            ("host".into(), json!("r2")),
            ("reason".into(), json!("leak")),
        ],
    )
    .await;
    assert!(text.contains("watched from afar"), "{text}");

    // The socket's engine goes away: r3 is a blind spot, said once.
    socket.stop_daemon();
    let deadline = Instant::now() + Duration::from_secs(30);
    let said = loop {
        let found = emu
            .all_messages_in(INCIDENT_CHANNEL_ID)
            .iter()
            .filter_map(|m| m["content"].as_str().map(String::from))
            .find(|c| c.contains("No data from host **r3**"));
        if let Some(m) = found {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "r3's blind spot never said:\n{}",
            emu.dump()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(said.contains("Docker engine does not answer"), "{said}");
    drop(bot);
    let _ = std::fs::remove_dir_all(&certs);
}
