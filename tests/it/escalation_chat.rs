//! Escalation through Discord, durable in PostgreSQL: the hour rule, OOM
//! downtime, the roster, manual escalation, restarts and two bots at once.
//! No test waits an hour: due times are moved in the database.

use crate::discord::{Emulator, Slash, INCIDENT_CHANNEL_ID, THREAD_ID};
use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(crate) fn slash(command: &str, sub: &str, channel_id: u64, options: &[(&str, Value)]) -> Slash {
    Slash {
        command: command.into(),
        subcommand: Some(sub.into()),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        member: responder(),
        channel_id,
    }
}

pub(crate) async fn run(emu: &Emulator, s: Slash) -> String {
    let sent = emu.slash(s).await;
    let r = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    r.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn open(emu: &Emulator, title: &str) -> u64 {
    let text = run(
        emu,
        slash(
            "incident",
            "open",
            INCIDENT_CHANNEL_ID,
            &[("title", json!(title))],
        ),
    )
    .await;
    text.split("<#")
        .nth(1)
        .and_then(|r| r.split('>').next())
        .unwrap()
        .parse()
        .unwrap()
}

/// Lets the scheduler tick a few more times: anything fired twice would
/// show by then.
async fn a_few_ticks() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

async fn latency_ms(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one(
            "SELECT (extract(epoch FROM fired_at - due_at) * 1000)::bigint FROM escalations WHERE fired_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hour_unresolved_pings_the_senior_engineer_once_even_when_acknowledged() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("none", &[], &[]).await;
    let thread = open(&emu, "slow leak").await;
    run(&emu, slash("incident", "ack", thread, &[])).await;
    let db = bot.db.as_ref().unwrap();
    // The hour passes.
    db.client()
        .await
        .execute("UPDATE escalations SET due_at = now()", &[])
        .await
        .unwrap();
    let pings = wait_escalations(&emu, thread, 1).await;
    let text = pings[0]["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("<@{SENIOR}> (Senior DevOps Engineer)")),
        "{text}"
    );
    assert!(text.contains("If unresolved after 1 hour"), "{text}");
    assert!(
        text.contains("acknowledged"),
        "the summary says the state: {text}"
    );
    a_few_ticks().await;
    assert_eq!(escalations_in(&emu, thread).len(), 1, "once");
    println!(
        "escalation latency while running: {} ms after due",
        latency_ms(db).await
    );
    // The ping really notifies: the mentioned user is allowed.
    let post = emu
        .requests()
        .into_iter()
        .find(|r| {
            r.method == "POST"
                && r.json.as_ref().is_some_and(|j| {
                    j["content"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("**Escalation**")
                })
        })
        .unwrap();
    assert_eq!(
        post.json.unwrap()["allowed_mentions"]["users"],
        json!([SENIOR.to_string()])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resolving_before_due_cancels_the_escalation() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("none", &[], &[]).await;
    let thread = open(&emu, "quick fix").await;
    run(
        &emu,
        slash("incident", "resolve", thread, &[("summary", json!("done"))]),
    )
    .await;
    let db = bot.db.as_ref().unwrap().client().await;
    db.execute("UPDATE escalations SET due_at = now()", &[])
        .await
        .unwrap();
    a_few_ticks().await;
    assert!(escalations_in(&emu, thread).is_empty());
    let state: String = db
        .query_one("SELECT state FROM escalations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oom_kill_that_takes_a_service_down_pings_the_devops_lead_at_once() {
    let TestApp {
        project: mut p,
        emu,
        bot,
    } = spawn_app("oom", &[], &[]).await;
    // Give the watcher a moment to subscribe to the engine's events.
    bot.wait_log("slash commands registered").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A worker that grows past its 48 MiB limit and is OOM-killed.
    p.start_with(
        "celery_worker",
        8,
        Some(48),
        &["--grow-mb", "8", "--every-ms", "50"],
    );
    let incident = emu
        .wait_until(WAIT, "an incident opened by the alert", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID).into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("opened by the OomKiller alert")
            })
        })
        .await;
    assert!(
        incident["content"].as_str().unwrap().contains("OOM kill:"),
        "{incident}"
    );
    // The OomKiller alert's report, with the memory chart.
    let report = emu
        .wait_until(WAIT, "the OomKiller report", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID).into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("**OomKiller** firing (bot)")
            })
        })
        .await;
    assert!(!report["embeds"].as_array().unwrap().is_empty(), "{report}");
    let thread = bot.wait_incident_thread().await;
    let pings = wait_escalations(&emu, thread, 1).await;
    let text = pings[0]["content"].as_str().unwrap();
    assert!(text.contains(&format!("<@{LEAD}> (DevOps Lead)")), "{text}");
    assert!(
        text.contains("killed by the OOM killer and is not running"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_bots_on_one_database_ping_once() {
    let db = TestDb::create().await;
    let (emu_a, emu_b) = (Emulator::start().await, Emulator::start().await);
    let a = Bot::start_on(&emu_a, "ibt-none", &[], &db.url).await;
    let b = Bot::start_on(&emu_b, "ibt-none", &[], &db.url).await;
    a.wait_log("database ready").await;
    b.wait_log("database ready").await;
    // An incident whose thread exists in both emulated worlds, due now.
    db.client()
        .await
        .batch_execute(&format!(
            "INSERT INTO incidents (runbook, title, severity, estimated_ttr_minutes, state, opened_at,
                 opened_by, channel_id, thread_id)
             VALUES ('mem', 'shared', 'critical', 30, 'open', now() - interval '1 hour', 'x',
                     {INCIDENT_CHANNEL_ID}, {THREAD_ID});
             INSERT INTO escalations (incident_id, rule, target, text, due_at, state)
             SELECT id, 'unresolved', 'senior_devops_engineer', 'If unresolved after 1 hour', now(), 'pending'
             FROM incidents;"
        ))
        .await
        .unwrap();
    emu_a
        .wait_until(WAIT, "a ping from either bot", |_| {
            (escalations_in(&emu_a, THREAD_ID).len() + escalations_in(&emu_b, THREAD_ID).len() > 0)
                .then_some(())
        })
        .await;
    a_few_ticks().await;
    let total = escalations_in(&emu_a, THREAD_ID).len() + escalations_in(&emu_b, THREAD_ID).len();
    assert_eq!(total, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overdue_escalation_fires_once_when_the_bot_starts_again() {
    let TestApp {
        project: _p,
        emu,
        bot: mut first,
    } = spawn_app("none", &[], &[]).await;
    let thread = open(&emu, "nobody watching").await;
    let db = first.db.take().unwrap();
    first.kill();
    // It fell due ten minutes ago, while the bot was down.
    db.client()
        .await
        .execute(
            "UPDATE escalations SET due_at = now() - interval '10 minutes'",
            &[],
        )
        .await
        .unwrap();
    let started = Instant::now();
    let _second = Bot::start_on(&emu, "ibt-none", &[], &db.url).await;
    let pings = wait_escalations(&emu, thread, 1).await;
    println!(
        "overdue escalation delivered {} ms after the bot was started",
        started.elapsed().as_millis()
    );
    let text = pings[0]["content"].as_str().unwrap();
    assert!(text.contains("(This escalation is 10 min late.)"), "{text}");
    a_few_ticks().await;
    assert_eq!(escalations_in(&emu, thread).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_roster_and_manual_escalation() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("none", &[], &[]).await;
    let thread = open(&emu, "getting worse").await;
    // Nobody holds on-call: the first manual escalation pings its role.
    let reply = run(
        &emu,
        slash(
            "mem",
            "escalate",
            thread,
            &[("reason", json!("memory climbing"))],
        ),
    )
    .await;
    assert!(reply.contains("to the On-call engineer"), "{reply}");
    let pings = wait_escalations(&emu, thread, 1).await;
    let text = pings[0]["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("<@&{ON_CALL_ROLE}> (On-call engineer)")),
        "{text}"
    );
    assert!(text.contains("Why: memory climbing"), "{text}");

    // Someone else takes the senior role; the next escalation pings them.
    let set = run(
        &emu,
        slash(
            "oncall",
            "set",
            thread,
            &[
                ("role", json!("senior_devops_engineer")),
                ("member", json!("8005")),
            ],
        ),
    )
    .await;
    assert!(
        set.contains("<@8005> is now senior_devops_engineer"),
        "{set}"
    );
    let show = run(&emu, slash("oncall", "show", thread, &[])).await;
    assert!(show.contains("Senior DevOps Engineer: <@8005>"), "{show}");
    assert!(show.contains(&format!("DevOps Lead: <@{LEAD}>")), "{show}");
    run(
        &emu,
        slash(
            "mem",
            "escalate",
            thread,
            &[("reason", json!("still climbing"))],
        ),
    )
    .await;
    let pings = wait_escalations(&emu, thread, 2).await;
    assert!(pings[1]["content"]
        .as_str()
        .unwrap()
        .contains("<@8005> (Senior DevOps Engineer)"));
}
