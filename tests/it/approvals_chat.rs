//! Two-person approval through Discord with several members, a real
//! PostgreSQL and a real container: restarts happen once, only with a second
//! approver, and every way around that is refused.

use crate::discord::{Click, Emulator, Recorded, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_second_person_approves_and_the_container_restarts_once() {
    let TestApp {
        project: p,
        emu,
        bot,
    } = spawn_app("approve", &[("web", 16, None)], &[]).await;
    let web = p.container("web");
    let before = started_at(&web);
    let (msg, reply) = request_restart(&emu, "web").await;
    assert!(
        reply.contains("to restart web is waiting for 1 approval(s) from someone else"),
        "{reply}"
    );
    assert_request_shows_the_container(&emu, msg, &web);

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
    assert_one_outcome_posted(&emu).await;

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

/// The request message shows the container, the reason, who asked, the
/// image and the uptime.
fn assert_request_shows_the_container(emu: &Emulator, msg: u64, container: &str) {
    let request = emu.message(msg).unwrap();
    let shown = request["embeds"][0].to_string();
    for needle in [
        container,
        "memory keeps growing",
        "alice",
        "image incident-bot-memhog:test",
        ", up ",
    ] {
        assert!(shown.contains(needle), "{needle:?} in {shown}");
    }
}

/// Exactly one "executed" outcome is posted in the incident channel, with
/// the next step.
async fn assert_one_outcome_posted(emu: &Emulator) {
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
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_ends_a_request_and_forged_buttons_do_nothing() {
    let TestApp {
        project: p,
        emu,
        bot,
    } = spawn_app("deny", &[("web", 16, None)], &[]).await;
    let web = p.container("web");
    let before = started_at(&web);
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
    let TestApp {
        project: mut p,
        emu,
        bot,
    } = spawn_app("refusals", &[("web", 16, None)], &[]).await;
    let web = p.container("web");
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
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("concurrent", &[("web", 16, None)], &[]).await;
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
    let TestApp {
        project: p,
        emu,
        bot: mut first,
    } = spawn_app("survive", &[("web", 16, None)], &[]).await;
    let web = p.container("web");
    let before = started_at(&web);
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
    let TestApp {
        project: p,
        emu,
        bot: _bot,
    } = spawn_app(
        "all-scope",
        &[("web", 16, None)],
        &[("INCIDENT_BOT_WATCH__ALL", "true")],
    )
    .await;
    let web = p.container("web");
    let before = started_at(&web);
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
