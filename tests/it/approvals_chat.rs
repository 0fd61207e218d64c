//! Two-person approval through Discord with several members, a real
//! PostgreSQL and a real container: restarts happen once, only with a second
//! approver, and every way around that is refused.

use crate::bot::{is_original_edit, Bot, APPROVER_ROLE, RESPONDER_ROLE, WAIT};
use crate::discord::{Click, Emulator, Member, Recorded, Sent, Slash, INCIDENT_CHANNEL_ID};
use crate::support::Project;
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
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.State.StartedAt}}", container])
        .output()
        .unwrap();
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

/// Clicks; returns once the bot acknowledged the click (a deferred update,
/// type 6: the message is edited, refusals follow privately).
pub async fn click(emu: &Emulator, message: u64, choice: &str, who: Member, raw: bool) -> Sent {
    let id = emu.message(message).unwrap()["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    let c = Click::button(message, &format!("approval:{id}:{choice}"), who);
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

#[tokio::test(flavor = "multi_thread")]
async fn a_second_person_approves_and_the_container_restarts_once() {
    let mut p = Project::new("approve");
    let web = p.start("web", 16, None);
    let before = started_at(&web);
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    let (msg, reply) = request_restart(&emu, "web").await;
    assert!(
        reply.contains("to restart web is waiting for 1 approval(s) from someone else"),
        "{reply}"
    );
    let request = emu.message(msg).unwrap();
    let shown = request["embeds"][0].to_string();
    for needle in [
        &web[..],
        "memory keeps growing",
        "alice",
        "image incident-bot-memhog:test",
        ", up ",
    ] {
        assert!(shown.contains(needle), "{needle:?} in {shown}");
    }

    // Refused, each with its reason, nothing restarted.
    let own = click(&emu, msg, "approve", alice(), false).await;
    let text = said(&emu, &own).await;
    assert!(text.contains("You asked for this action"), "{text}");
    let not_approver = click(&emu, msg, "approve", dave(), false).await;
    assert!(said(&emu, &not_approver)
        .await
        .contains("You need an approver role"));
    assert_eq!(started_at(&web), before);

    // Bob approves: the message updates at once, then the restart runs.
    let ok = click(&emu, msg, "approve", bob(), false).await;
    let state = wait_state(&emu, msg, "Approved by bob").await;
    let state = if state.contains("executed") {
        state
    } else {
        wait_state(&emu, msg, "Approved by bob (<@9003>) and executed").await
    };
    assert!(state.contains("running since"), "{state}");
    assert!(state.contains("Next: /mem verify"), "{state}");
    assert_ne!(started_at(&web), before, "the container really restarted");
    assert!(
        followups(&emu, &ok).is_empty(),
        "the winning vote is not refused"
    );
    let restarted = started_at(&web);
    // The outcome is posted right after the request message is updated.
    let outcome = emu
        .wait_until(WAIT, "the outcome message", |emu| {
            let posted: Vec<_> = emu
                .messages_in(INCIDENT_CHANNEL_ID)
                .into_iter()
                .filter(|m| m["content"].as_str().unwrap_or("").contains("executed"))
                .collect();
            (!posted.is_empty()).then_some(posted)
        })
        .await;
    assert_eq!(outcome.len(), 1);
    assert!(outcome[0]["content"]
        .as_str()
        .unwrap()
        .contains("Next: /mem verify"));

    // A double click and a late approval change nothing.
    for who in [bob(), carol()] {
        let late = click(&emu, msg, "approve", who, true).await;
        let text = said(&emu, &late).await;
        assert!(text.contains("was already approved"), "{text}");
    }
    assert_eq!(started_at(&web), restarted, "restarted exactly once");

    let needles = [
        "/mem restart: requested",
        "approve: refused: You asked for this action",
        "approve: refused: You need an approver role",
        "approve: approved",
        "execute restart: executed",
    ];
    bot.audit_until(|rows| {
        needles
            .iter()
            .all(|n| rows.iter().any(|(a, r)| format!("{a}: {r}").starts_with(n)))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_ends_a_request_and_forged_buttons_do_nothing() {
    let mut p = Project::new("deny");
    let web = p.start("web", 16, None);
    let before = started_at(&web);
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    let (msg, _) = request_restart(&emu, "web").await;
    // Asking again while it is open is refused: one open request a service.
    let again = emu.slash(restart_slash("web", "again", bob())).await;
    let r = emu
        .wait_for(WAIT, |r| is_original_edit(r, &again.token))
        .await;
    assert!(edited(&r).contains("is still open"), "{}", edited(&r));
    click(&emu, msg, "deny", carol(), false).await;
    wait_state(&emu, msg, "Denied by carol").await;
    let after = click(&emu, msg, "approve", bob(), true).await;
    let text = said(&emu, &after).await;
    assert!(text.contains("was denied by carol"), "{text}");

    for forged in ["approval:999:approve", "approval:1:launch", "rm -rf /"] {
        let sent = emu.click_raw(Click::button(msg, forged, bob())).await;
        acked(&emu, &sent).await;
        let text = said(&emu, &sent).await;
        assert!(
            text.contains("does not belong to any request"),
            "{forged}: {text}"
        );
    }
    assert_eq!(started_at(&web), before, "nothing was restarted");
    let forged = |rows: &[(String, String)]| {
        rows.iter()
            .filter(|(_, r)| r.starts_with("refused: unknown button id"))
            .count()
    };
    let rows = bot.audit_until(|rows| forged(rows) >= 3).await;
    assert_eq!(forged(&rows), 3, "{rows:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_recreated_and_rate_limited_requests_restart_nothing() {
    let mut p = Project::new("refusals");
    let web = p.start("web", 16, None);
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    let db = bot.db.as_ref().unwrap().client().await;

    // Expiry: fifteen minutes pass (moved in the database, not waited for).
    let (msg, _) = request_restart(&emu, "web").await;
    db.execute(
        "UPDATE action_requests SET expires_at = now() - interval '1 second'",
        &[],
    )
    .await
    .unwrap();
    wait_state(&emu, msg, "Expired").await;
    let late = click(&emu, msg, "approve", bob(), true).await;
    let text = said(&emu, &late).await;
    assert!(text.contains("expired"), "{text}");

    // The container is recreated between request and approval.
    let (msg, _) = request_restart(&emu, "web").await;
    let old = started_at(&web);
    p.remove(&web);
    let web = p.start("web", 16, None);
    click(&emu, msg, "approve", bob(), false).await;
    let state = wait_state(&emu, msg, "Approved by bob (<@9003>), but failed").await;
    assert!(state.contains("was recreated since the request"), "{state}");
    assert_ne!(started_at(&web), old);
    let fresh = started_at(&web);

    // The rate limit: three restarts of web in the last hour.
    db.batch_execute(
        "INSERT INTO action_requests (runbook, action, service, container_id, container_name,
             target_summary, reason, requested_by, requested_by_label, requested_at, expires_at,
             approvals_needed, state, executed_at)
         SELECT 'mem', 'restart', 'web', 'x', 'x', 'x', 'x', 1, 'x', now(), now(), 1,
                'executed', now() - interval '10 minutes'
         FROM generate_series(1, 3)",
    )
    .await
    .unwrap();
    let sent = emu.slash(restart_slash("web", "again", alice())).await;
    let r = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    assert!(
        edited(&r).contains("web was restarted 3 times in the last hour"),
        "{}",
        edited(&r)
    );
    assert!(edited(&r).contains("/mem leaks"), "says what to do instead");
    assert_eq!(started_at(&web), fresh, "nothing was restarted");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_approvals_restart_once() {
    let mut p = Project::new("concurrent");
    p.start("web", 16, None);
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[]).await;
    let (msg, _) = request_restart(&emu, "web").await;
    let (a, b) = tokio::join!(
        click(&emu, msg, "approve", bob(), false),
        click(&emu, msg, "approve", carol(), false),
    );
    // One click wins; the other is told it came second.
    let loser = emu
        .wait_until(WAIT, "the second click's answer", |emu| {
            let told: Vec<Recorded> = [&a, &b].iter().flat_map(|s| followups(emu, s)).collect();
            (!told.is_empty()).then_some(told)
        })
        .await;
    assert_eq!(loser.len(), 1, "{loser:?}");
    let text = loser[0].json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("already approved"), "{text}");
    let state = wait_state(&emu, msg, "Approved by").await;
    let db = bot.db.as_ref().unwrap().client().await;
    let deadline = Instant::now() + WAIT;
    loop {
        let executed: i64 = db
            .query_one(
                "SELECT count(*) FROM action_requests WHERE state = 'executed'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if executed == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let votes: i64 = db
        .query_one("SELECT count(*) FROM action_votes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(votes, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_survives_a_bot_restart() {
    let mut p = Project::new("survive");
    let web = p.start("web", 16, None);
    let before = started_at(&web);
    let emu = Emulator::start().await;
    let mut first = Bot::start(&emu, &p.name, &[]).await;
    let (msg, _) = request_restart(&emu, "web").await;
    let db = first.db.take().unwrap();
    first.kill();

    let second = Bot::start_on(&emu, &p.name, &[], &db.url).await;
    second.wait_log("database ready").await;
    click(&emu, msg, "approve", bob(), false).await;
    wait_state(&emu, msg, "Approved by bob (<@9003>) and executed").await;
    assert_ne!(started_at(&web), before);
}

/// Watching every container is for looking; actions need a project.
#[tokio::test(flavor = "multi_thread")]
async fn watching_everything_allows_no_restarts() {
    let mut p = Project::new("all-scope");
    let web = p.start("web", 16, None);
    let before = started_at(&web);
    let emu = Emulator::start().await;
    let _bot = Bot::start(&emu, &p.name, &[("INCIDENT_BOT_WATCH__ALL", "true")]).await;
    let sent = emu.slash(restart_slash("web", "x", alice())).await;
    let reply = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let text = reply.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("actions need a watched Compose project"),
        "{text}"
    );
    assert!(!emu
        .messages_in(INCIDENT_CHANNEL_ID)
        .iter()
        .any(|m| m["content"]
            .as_str()
            .unwrap_or("")
            .starts_with("Approval needed")));
    assert_eq!(started_at(&web), before);
}

/// `/mem <sub>` with `options` by Alice in the incident channel: her
/// private reply and the posted request message.
pub async fn request_action(
    emu: &Emulator,
    sub: &str,
    options: Vec<(String, serde_json::Value)>,
) -> (String, serde_json::Value) {
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
    let text = reply.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
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
