//! Members and the two-person approval flow as tests drive it: who asks,
//! who approves, requesting an action, clicking its buttons and reading
//! what the bot said.

use super::{is_original_edit, APPROVER_ROLE, RESPONDER_ROLE, WAIT};
use crate::discord::{Click, Emulator, Member, Recorded, Sent, Slash, INCIDENT_CHANNEL_ID};
use serde_json::json;
use std::time::{Duration, Instant};

pub fn member(id: u64, name: &str, roles: &[u64]) -> Member {
    Member {
        user_id: id,
        name: name.into(),
        roles: roles.to_vec(),
    }
}

/// Alice asks; Bob and Carol approve; Dave is a responder, not an approver.
pub fn alice() -> Member {
    member(9001, "alice", &[RESPONDER_ROLE, APPROVER_ROLE])
}
pub fn bob() -> Member {
    member(9003, "bob", &[RESPONDER_ROLE, APPROVER_ROLE])
}
pub fn carol() -> Member {
    member(9004, "carol", &[APPROVER_ROLE])
}
pub fn dave() -> Member {
    member(9005, "dave", &[RESPONDER_ROLE])
}

pub fn started_at(container: &str) -> String {
    let out = super::docker(&["inspect", "--format", "{{.State.StartedAt}}", container]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `/mem restart service:<service> reason:<reason>` by `who`.
pub fn restart_slash(service: &str, reason: &str, who: Member) -> Slash {
    Slash {
        command: "mem".into(),
        subcommand: Some("restart".into()),
        options: vec![
            ("service".into(), json!(service)),
            ("reason".into(), json!(reason)),
        ],
        member: who,
        channel_id: INCIDENT_CHANNEL_ID,
    }
}

/// `/mem restart service:<service>` by Alice; returns the request message
/// id and her reply.
pub async fn request_restart(emu: &Emulator, service: &str) -> (u64, String) {
    let (text, msg) = request_action(
        emu,
        "restart",
        vec![
            ("service".into(), json!(service)),
            ("reason".into(), json!("memory keeps growing")),
        ],
    )
    .await;
    (msg["id"].as_str().unwrap().parse().unwrap(), text)
}

/// The custom id of button `choice` for the request on `message`.
pub fn custom_id(emu: &Emulator, message: u64, choice: &str) -> String {
    let id = emu.message(message).unwrap()["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    format!("approval:{id}:{choice}")
}

/// Clicks; returns once the bot acknowledged the click (a deferred update,
/// type 6: the message is edited, refusals follow privately).
pub async fn click(emu: &Emulator, message: u64, choice: &str, who: Member, raw: bool) -> Sent {
    let c = Click::button(message, &custom_id(emu, message, choice), who);
    let sent = if raw {
        emu.click_raw(c).await
    } else {
        emu.click(c).await
    };
    acked(emu, &sent).await;
    sent
}

pub async fn acked(emu: &Emulator, sent: &Sent) {
    let ack = emu
        .wait_for(WAIT, |r| {
            r.path
                .contains(&format!("/interactions/{}/", sent.interaction_id))
        })
        .await;
    assert_eq!(ack.json.as_ref().unwrap()["type"], 6, "a deferred update");
}

/// Private follow-ups the bot sent for a click.
pub fn followups(emu: &Emulator, sent: &Sent) -> Vec<Recorded> {
    emu.requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST"
                && r.path.starts_with("/api/v10/webhooks/")
                && r.path.contains(&sent.token)
        })
        .collect()
}

/// What the bot told the clicker privately (waits for it).
pub async fn said(emu: &Emulator, sent: &Sent) -> String {
    let r = emu
        .wait_until(WAIT, "a private follow-up", |emu| {
            followups(emu, sent).into_iter().next()
        })
        .await;
    assert_eq!(
        r.json.as_ref().unwrap()["flags"].as_u64().unwrap_or(0) & 64,
        64,
        "ephemeral"
    );
    r.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The text of an edited (deferred) reply.
pub fn edited(r: &Recorded) -> String {
    r.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn state_of(emu: &Emulator, message: u64) -> String {
    let msg = emu.message(message).unwrap();
    msg["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "State")
        .map(|f| f["value"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

pub async fn wait_state(emu: &Emulator, message: u64, prefix: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let state = state_of(emu, message);
        if state.starts_with(prefix) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "state {state:?}, wanted {prefix:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/mem <sub>` with `options` by Alice in the incident channel: her
/// reply only (for requests that are refused).
pub async fn action_reply(
    emu: &Emulator,
    sub: &str,
    options: Vec<(String, serde_json::Value)>,
) -> String {
    let sent = emu
        .slash(Slash {
            command: "mem".into(),
            subcommand: Some(sub.into()),
            options,
            member: alice(),
            channel_id: INCIDENT_CHANNEL_ID,
        })
        .await;
    let reply = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    reply.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `/mem <sub>` with `options` by Alice in the incident channel: her
/// private reply and the posted request message.
pub async fn request_action(
    emu: &Emulator,
    sub: &str,
    options: Vec<(String, serde_json::Value)>,
) -> (String, serde_json::Value) {
    let text = action_reply(emu, sub, options).await;
    // The newest request: a test may make several.
    let request = emu
        .messages_in(INCIDENT_CHANNEL_ID)
        .into_iter()
        .rev()
        .find(|m| {
            m["content"]
                .as_str()
                .unwrap_or("")
                .starts_with("Approval needed")
        })
        .unwrap_or_else(|| panic!("a request message; the reply was {text:?}"));
    (text, request)
}

/// Bob approves the request `message`; returns the outcome's text.
pub async fn approve(emu: &Emulator, message: &serde_json::Value) -> String {
    let id: u64 = message["id"].as_str().unwrap().parse().unwrap();
    click(emu, id, "approve", bob(), false).await;
    let outcome = emu
        .wait_until(WAIT, "the outcome", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID)
                .into_iter()
                .find(|m| m["content"].as_str().unwrap_or("").contains(" executed: "))
        })
        .await;
    outcome["content"].as_str().unwrap().to_string()
}
