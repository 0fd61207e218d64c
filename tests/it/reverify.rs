//! Verification that re-runs itself. In-process with a chosen clock (as
//! `loops.rs`): resolving schedules the runbook's runs, each posts one line
//! in the thread, a newer remedy replaces the runs still waiting, and a
//! real OOM kill after resolving is a regression that reopens the incident
//! and pages whoever resolved it and the on-call person. Through two bot
//! processes on one database: a schedule made before they started runs
//! once.

use crate::discord::{Emulator, INCIDENT_CHANNEL_ID, THREAD_ID};
use crate::harness::*;
use crate::loops::app_with;
use incident_bot::app::{incidents, paging, rechecks, reverify};
use incident_bot::core::incident::{Request, State};
use incident_bot::render::Mentions;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const ONCALL: u64 = 8100;
const ALICE: u64 = 77;
const LEAD: u64 = 78;

fn mins(m: i64) -> time::Duration {
    time::Duration::minutes(m)
}

#[tokio::test(flavor = "multi_thread")]
async fn re_checks_run_after_resolving_and_a_regression_reopens_and_pages() {
    let mut p = Project::new("reverify");
    p.start("web", 8, None);
    let db = TestDb::create().await;
    let roster = vec![("on_call".to_string(), ONCALL)];
    let (app, chat) = app_with(&db, &p.name, roster, &[]).await;
    // The checklist reads memory from the live watcher, as in the bot.
    app.watcher.spawn();
    let deadline = Instant::now() + WAIT;
    while app.watcher.last_round().is_none() {
        assert!(Instant::now() < deadline, "the watcher never sampled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let how = incidents::How {
        opened_by: "alice",
        announced_by: "alice",
        severity: None,
    };
    let t0 = OffsetDateTime::now_utc();
    let opened = incidents::open(&app, app.runbooks.first(), "web leaks", &how, t0)
        .await
        .unwrap();
    let (id, thread) = (opened.incident.id, opened.thread.unwrap());
    app.store.set_lead(id, LEAD).await.unwrap().unwrap();
    let resolve = Request::Resolve {
        by: format!("alice (<@{ALICE}>)"),
        summary: "restarted web".into(),
    };
    incidents::transition(&app, thread, &resolve).await.unwrap();
    let checks = app.store.checks(id).await.unwrap();
    let offsets: Vec<i32> = checks.iter().map(|c| c.0).collect();
    assert_eq!(offsets, [5, 15, 60], "the runbook's schedule");
    assert!(checks.iter().all(|c| c.2 == "pending"));

    assert_eq!(
        reverify::tick(&app, t0 + mins(4)).await.unwrap(),
        0,
        "not yet"
    );
    assert_eq!(reverify::tick(&app, t0 + mins(6)).await.unwrap(), 1);
    let line = chat
        .posts_in(thread)
        .last()
        .unwrap()
        .content
        .clone()
        .unwrap();
    assert!(
        line.starts_with("Re-check +5 min after resolving: **"),
        "{line}"
    );
    assert!(line.contains("✅ no OOM kill"), "{line}");
    let inc = app.store.incident(id).await.unwrap().unwrap();
    assert_eq!(inc.state, State::Resolved, "no regression: still resolved");

    // After resolving, the kernel OOM-kills a container of the project.
    let hog = p.start_full(
        "worker",
        8,
        Some(48),
        &[],
        &["--grow-mb", "16", "--every-ms", "50"],
    );
    let deadline = Instant::now() + WAIT;
    while !String::from_utf8_lossy(
        &docker(&["inspect", "--format", "{{.State.OOMKilled}}", &hog]).stdout,
    )
    .contains("true")
    {
        assert!(Instant::now() < deadline, "{hog} was never OOM-killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reverify::tick(&app, t0 + mins(16)).await.unwrap(), 1);
    let inc = app.store.incident(id).await.unwrap().unwrap();
    assert_eq!(inc.state, State::Open, "reopened by the regression");
    let said = chat.posts_in(thread);
    let regression = said
        .iter()
        .find(|m| {
            m.content
                .as_deref()
                .unwrap_or("")
                .starts_with("**Regression**")
        })
        .expect("the regression is said in the thread");
    let text = regression.content.clone().unwrap();
    assert!(
        text.contains("reopened") && text.contains("No OOM errors"),
        "{text}"
    );
    match &regression.mentions {
        Mentions::Exactly { users, .. } => {
            assert_eq!(
                users,
                &[LEAD, ALICE, ONCALL],
                "the lead, who resolved it, on-call"
            )
        }
        Mentions::None => panic!("the regression pings: {text}"),
    }
    let paged = paging::tick(&app, t0 + mins(16)).await.unwrap();
    assert_eq!(paged.planned, 1, "the reopened incident pages again");

    // A newer remedy replaces the runs still waiting.
    rechecks::schedule(&app, &inc, "restart", t0 + mins(20)).await;
    let states: Vec<(i32, String)> = app
        .store
        .checks(id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.0, c.2))
        .collect();
    let pending: Vec<i32> = states
        .iter()
        .filter(|s| s.1 == "pending")
        .map(|s| s.0)
        .collect();
    assert_eq!(pending, [5, 15, 60], "only the new runs wait: {states:?}");
    assert!(
        states.contains(&(60, "cancelled".to_string())),
        "{states:?}"
    );
}

fn rechecks(emu: &Emulator) -> usize {
    emu.messages_in(THREAD_ID)
        .iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .unwrap_or("")
                .starts_with("Re-check +5 min")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_outlives_its_bot_and_runs_once_with_two_bots() {
    let p = Project::new("reverify-two");
    let db = TestDb::create().await;
    let (emu_a, emu_b) = (Emulator::start().await, Emulator::start().await);
    let mut first = Bot::start_on(&emu_a, &p.name, &[], &db.url).await;
    first.wait_log("database ready").await;
    // A resolved incident whose thread exists in both emulated worlds,
    // with its runs scheduled while the first bot ran.
    db.client()
        .await
        .batch_execute(&format!(
            "INSERT INTO incidents (runbook, title, severity, estimated_ttr_minutes, state, opened_at,
                 opened_by, resolved_at, resolved_by, resolution, channel_id, thread_id)
             VALUES ('mem', 'shared', 'sev2', 30, 'resolved', now() - interval '1 hour', 'x',
                     now(), 'x', 'fixed', {INCIDENT_CHANNEL_ID}, {THREAD_ID});
             INSERT INTO scheduled_checks (incident_id, after, from_at, offset_minutes, due_at, state)
             SELECT id, 'resolve', now(), m, now() + m * interval '1 minute', 'pending'
             FROM incidents, unnest(ARRAY[5, 15, 60]) AS m;"
        ))
        .await
        .unwrap();
    first.kill();
    let a = Bot::start_on(&emu_a, &p.name, &[], &db.url).await;
    let b = Bot::start_on(&emu_b, &p.name, &[], &db.url).await;
    a.wait_log("database ready").await;
    b.wait_log("database ready").await;
    // The +5 run falls due (its time moved in the database).
    db.client()
        .await
        .execute(
            "UPDATE scheduled_checks SET due_at = now() WHERE offset_minutes = 5",
            &[],
        )
        .await
        .unwrap();
    emu_a
        .wait_until(WAIT, "the re-check from either bot", |_| {
            (rechecks(&emu_a) + rechecks(&emu_b) > 0).then_some(())
        })
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rechecks(&emu_a) + rechecks(&emu_b), 1, "run once");
    let states: Vec<(i32, String)> = db
        .client()
        .await
        .query(
            "SELECT offset_minutes, state FROM scheduled_checks ORDER BY offset_minutes",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        states,
        [
            (5, "done".into()),
            (15, "pending".into()),
            (60, "pending".into())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_restart_is_followed_by_the_checklist_again() {
    let TestApp {
        project: p,
        emu,
        bot,
    } = spawn_app("reverify-restart", &[("web", 8, None)], &[]).await;
    let db = bot.db.as_ref().unwrap().client().await;
    // The only open incident: the request, and the remedy, are for it.
    db.batch_execute(&format!(
        "INSERT INTO incidents (runbook, title, severity, estimated_ttr_minutes, state, opened_at,
             opened_by, channel_id, thread_id)
         VALUES ('mem', 'web grows', 'sev2', 30, 'open', now(), 'x', {INCIDENT_CHANNEL_ID}, {THREAD_ID})"
    ))
    .await
    .unwrap();
    let options = vec![
        ("service".to_string(), serde_json::json!("web")),
        (
            "reason".to_string(),
            serde_json::json!("memory keeps growing"),
        ),
    ];
    let reply = action_reply(&emu, "restart", options).await;
    assert!(reply.contains("waiting for 1 approval"), "{reply}");
    let request = emu
        .wait_until(WAIT, "the request in the incident's thread", |emu| {
            emu.messages_in(THREAD_ID).into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Approval needed")
            })
        })
        .await;
    let id: u64 = request["id"].as_str().unwrap().parse().unwrap();
    click(&emu, id, "approve", bob(), false).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM scheduled_checks WHERE after = 'restart' AND state = 'pending'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no re-checks after the restart ({n})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.execute(
        "UPDATE scheduled_checks SET due_at = now() WHERE offset_minutes = 5",
        &[],
    )
    .await
    .unwrap();
    let line = emu
        .wait_until(WAIT, "the re-check in the thread", |emu| {
            emu.messages_in(THREAD_ID)
                .into_iter()
                .filter_map(|m| m["content"].as_str().map(str::to_string))
                .find(|c| c.starts_with("Re-check +5 min after the restart: **"))
        })
        .await;
    assert!(line.contains("✅ no OOM kill"), "{line}");
    assert!(!line.contains("❌"), "the checks pass: {line}");
    drop(p);
}
