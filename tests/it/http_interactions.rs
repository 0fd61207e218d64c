//! Interactions over HTTP (`fleet.interactions = "http"`): the emulator
//! POSTs each interaction to the bot signed with Ed25519, as Discord does
//! for an Interactions Endpoint URL. Two real bot processes (two nodes of
//! a fleet) on one database: PING answered, bad, missing and stale
//! signatures refused, a command answered through the response body and
//! edited in over REST, a replay refused by the node that answered it and
//! by the other one, and nothing run twice.

use crate::discord::{Emulator, APP_ID};
use crate::harness::*;
use serde_json::json;

/// The settings of a node taking interactions over HTTP.
fn http_node<'a>(node: &'a str, public_key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("INCIDENT_BOT_FLEET__ENABLED", "true"),
        ("INCIDENT_BOT_FLEET__NODE", node),
        ("INCIDENT_BOT_FLEET__INTERACTIONS", "http"),
        ("DISCORD_PUBLIC_KEY", public_key),
    ]
}

/// POSTs `body` to `url` with the given signature headers (`None`: left
/// out); returns status and body.
async fn post(
    url: &str,
    body: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(t) = timestamp {
        req = req.header("x-signature-timestamp", t);
    }
    if let Some(s) = signature {
        req = req.header("x-signature-ed25519", s);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn now() -> String {
    time::OffsetDateTime::now_utc().unix_timestamp().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_interactions_are_answered_once_and_forgeries_refused() {
    let mut project = Project::new("httpix");
    let web = project.start("web", 30, None);
    let emu = Emulator::start().await;
    let db = TestDb::create().await;
    let key = emu.deliver_over_http("http://127.0.0.1:9/unused");
    let b1 = Bot::spawn_on(&emu, &project.name, &http_node("h1", &key), &db.url);
    let b2 = Bot::spawn_on(&emu, &project.name, &http_node("h2", &key), &db.url);
    for b in [&b1, &b2] {
        b.wait_log("interactions over HTTP; slash commands registered")
            .await;
        // Migrated: a claim can be recorded.
        b.wait_log("database ready").await;
    }
    let (url1, url2) = (
        format!("{}/interactions", b1.http_base().await),
        format!("{}/interactions", b2.http_base().await),
    );
    emu.deliver_over_http(&url1);

    // PING → PONG, as Discord checks when the URL is saved.
    let ping = json!({"id": "41", "application_id": APP_ID.to_string(), "type": 1,
                      "token": "ping-token", "version": 1})
    .to_string();
    let t = now();
    let signature = emu.sign(&t, ping.as_bytes());
    let (status, body) = post(&url1, ping.as_bytes(), Some(&t), Some(&signature)).await;
    assert_eq!((status, body.as_str()), (200, r#"{"type":1}"#));

    // What Discord itself tries when the URL is saved: a bad signature.
    let wrong = emu.sign(&t, b"something else");
    let (status, _) = post(&url1, ping.as_bytes(), Some(&t), Some(&wrong)).await;
    assert_eq!(status, 401);
    let (status, _) = post(&url1, ping.as_bytes(), None, None).await;
    assert_eq!(status, 401);
    let (status, _) = post(&url1, ping.as_bytes(), Some(&t), Some("zz")).await;
    assert_eq!(status, 401);
    // Signed correctly, but an hour old: a replay of an old capture.
    let old = (time::OffsetDateTime::now_utc().unix_timestamp() - 3600).to_string();
    let signature = emu.sign(&old, ping.as_bytes());
    let (status, _) = post(&url1, ping.as_bytes(), Some(&old), Some(&signature)).await;
    assert_eq!(status, 401);
    // Signed, but no interaction.
    let t = now();
    let junk = b"{\"hello\": 1}";
    let (status, _) = post(&url1, junk, Some(&t), Some(&emu.sign(&t, junk))).await;
    assert_eq!(status, 400);

    // A command: deferred in the response body, the report edited in.
    let reply = mem(&emu, "status", vec![]).await;
    assert!(reply.to_string().contains(&web), "{reply:#}");
    let delivered = emu.deliveries();
    let first = delivered.last().unwrap();
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&first.body).unwrap()["type"],
        5,
        "deferred in the body: {}",
        first.body
    );

    // The same signed request again, to the node that answered it and to
    // the other node: refused by both, run by neither.
    let (body, t, signature) = &first.request;
    for url in [&url1, &url2] {
        let (status, text) = post(url, body, Some(t), Some(signature)).await;
        assert_eq!(status, 409, "{url}: {text}");
    }
    let client = db.client().await;
    let runs = || async {
        client
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = '/mem status'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let deadline = std::time::Instant::now() + WAIT;
    while runs().await == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Time for a second run to show, had the replay started one.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(runs().await, 1, "the command ran once");
    let claims: i64 = client
        .query_one("SELECT count(*) FROM interactions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(claims, 1);

    // The other node answers what is delivered to it (a load balancer may
    // pick either).
    emu.deliver_over_http(&url2);
    let reply = mem(&emu, "status", vec![]).await;
    assert!(reply.to_string().contains(&web), "{reply:#}");
    assert!(b2.logged("/mem status"), "node h2 answered");
}
