//! Commands and requests tests make of the bot: `/mem` subcommands and
//! their replies, sessions on the monitored database, HTTP GETs, and the
//! escalation messages it posts.

use super::{is_original_edit, responder, WAIT};
use crate::discord::{Emulator, Recorded, Slash, INCIDENT_CHANNEL_ID};
use serde_json::Value;
use std::time::Duration;

/// A session of `app` on `url` as `user` (password-less on the test
/// server), optionally left idle inside an open transaction.
pub async fn session(
    url: &str,
    user: Option<&str>,
    app: &str,
    in_tx: bool,
) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.application_name(app);
    if let Some(u) = user {
        config.user(u);
    }
    let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    if in_tx {
        client.batch_execute("BEGIN; SELECT 1").await.unwrap();
    }
    client
}

/// `/mem <sub>` with `options` by a responder in the incident channel.
pub fn mem_slash(sub: &str, options: Vec<(String, Value)>) -> Slash {
    Slash {
        command: "mem".into(),
        subcommand: Some(sub.into()),
        options,
        member: responder(),
        channel_id: INCIDENT_CHANNEL_ID,
    }
}

/// Runs `/mem <sub>`; returns its edited (deferred) reply as recorded.
pub async fn mem_reply(emu: &Emulator, sub: &str, options: Vec<(String, Value)>) -> Recorded {
    let sent = emu.slash(mem_slash(sub, options)).await;
    emu.wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await
}

/// Runs `/mem <sub>`; returns its edited reply's payload.
pub async fn mem(emu: &Emulator, sub: &str, options: Vec<(String, Value)>) -> Value {
    mem_reply(emu, sub, options).await.json.expect("payload")
}

/// The bot's answer to `s`: the payload of the edit of its deferred reply,
/// or of its direct reply (an interaction callback of type 4, the text
/// under `data`).
pub async fn answer_json(emu: &Emulator, s: Slash) -> Value {
    let sent = emu.slash(s).await;
    emu.wait_for(WAIT, |r| {
        is_original_edit(r, &sent.token)
            || (r
                .path
                .contains(&format!("/interactions/{}/", sent.interaction_id))
                && r.json.as_ref().is_some_and(|j| j["type"] == 4))
    })
    .await
    .json
    .expect("payload")
}

/// GETs `url`, returning status and body.
pub async fn get(url: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The escalation messages posted in `channel`.
pub fn escalations_in(emu: &Emulator, channel: u64) -> Vec<Value> {
    emu.messages_in(channel)
        .into_iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .unwrap_or("")
                .starts_with("**Escalation**")
        })
        .collect()
}

/// Waits until `channel` holds at least `n` escalation messages.
pub async fn wait_escalations(emu: &Emulator, channel: u64, n: usize) -> Vec<Value> {
    emu.wait_until(WAIT, "escalation messages", |emu| {
        let found = escalations_in(emu, channel);
        (found.len() >= n).then_some(found)
    })
    .await
}
