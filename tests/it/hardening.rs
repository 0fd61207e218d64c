//! The bot tried as an attacker would: buttons moved between messages,
//! hostile text in every free-text option, NUL bytes, a log at trace level
//! scanned for secrets, and two bot processes answering the same
//! interactions.

mod checks;

use crate::discord::{Click, Emulator, Slash, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use checks::{a_nul_in_a_custom_id_is_refused_and_audited, only_the_escalation_notifies};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn a_button_counts_only_on_its_own_request_message() {
    let TestApp {
        project: p,
        emu,
        bot,
    } = spawn_app(
        "bound",
        &[("web", 16, None), ("celery_worker", 16, None)],
        &[],
    )
    .await;
    let web = p.container("web");
    let worker = p.container("celery_worker");
    let (web_before, worker_before) = (started_at(&web), started_at(&worker));
    let (first, _) = request_restart(&emu, "web").await;
    let (second, _) = request_restart(&emu, "celery_worker").await;
    let first_state = state_of(&emu, first);

    // Request #2's Approve, clicked on request #1's message.
    let forged = custom_id(&emu, second, "approve");
    let sent = emu.click_raw(Click::button(first, &forged, bob())).await;
    acked(&emu, &sent).await;
    let text = said(&emu, &sent).await;
    assert!(
        text.contains("does not belong to request #2's message; nothing was done"),
        "{text}"
    );
    // Nothing changed: neither request, neither message, neither container.
    assert_eq!(state_of(&emu, first), first_state);
    assert!(
        state_of(&emu, second).starts_with("Pending"),
        "{}",
        state_of(&emu, second)
    );
    assert!(emu.message(first).unwrap()["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .starts_with("Request #1"));
    let db = bot.db.as_ref().unwrap().client().await;
    let states: Vec<String> = db
        .query("SELECT state FROM action_requests ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(states, ["pending", "pending"]);
    a_nul_in_a_custom_id_is_refused_and_audited(&emu, &bot, &db, first).await;

    // The right button on the right message still works.
    click(&emu, second, "approve", bob(), false).await;
    crate::harness::wait_state(&emu, second, "Approved by bob (<@9003>) and executed").await;
    assert_ne!(started_at(&worker), worker_before);
    assert_eq!(started_at(&web), web_before, "request #1 never ran");
}

/// Text that would ping the whole server, a role and two people.
const HOSTILE: &str = "@everyone @here <@&7001> <@9003> <@!9004> hi";

/// (command, subcommand, options).
type Command = (&'static str, &'static str, Vec<(&'static str, Value)>);

fn slash(command: &str, sub: &str, channel_id: u64, options: &[(&str, Value)]) -> Slash {
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

async fn run(emu: &Emulator, s: Slash) -> String {
    // The text, or an embed's title for replies that are only an embed.
    let j = answer_json(emu, s).await;
    j["content"]
        .as_str()
        .or(j["data"]["content"].as_str())
        .or(j["embeds"][0]["title"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn user_text_is_shown_and_pings_nobody() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("pings", &[("web", 16, None)], &[]).await;
    let opened = run(
        &emu,
        slash(
            "incident",
            "open",
            INCIDENT_CHANNEL_ID,
            &[("title", json!(HOSTILE))],
        ),
    )
    .await;
    let thread: u64 = opened
        .split("<#")
        .nth(1)
        .and_then(|r| r.split('>').next())
        .unwrap()
        .parse()
        .unwrap();
    // Every command that echoes people's text, in the thread.
    let commands = |list: Vec<Command>| {
        let emu = emu.clone();
        async move {
            for (command, sub, options) in list {
                let mut s = slash(command, sub, thread, &options);
                s.member = alice();
                let said = run(&emu, s).await;
                assert!(!said.is_empty(), "/{command} {sub} answered");
            }
        }
    };
    commands(vec![
        ("incident", "list", vec![]),
        ("incident", "status", vec![]),
        ("incident", "ack", vec![]),
        (
            "mem",
            "restart",
            vec![("service", json!("web")), ("reason", json!(HOSTILE))],
        ),
        (
            "mem",
            "restart",
            vec![("service", json!(HOSTILE)), ("reason", json!("x"))],
        ),
        ("mem", "escalate", vec![("reason", json!(HOSTILE))]),
    ])
    .await;
    // The escalation (posted by the scheduler) is the one message meant
    // to notify: exactly its target, the on-call role.
    let pings = wait_escalations(&emu, thread, 1).await;
    assert!(pings[0]["content"].as_str().unwrap().contains(HOSTILE));
    commands(vec![
        ("incident", "postmortem", vec![]),
        ("incident", "resolve", vec![("summary", json!(HOSTILE))]),
        ("incident", "list", vec![]),
    ])
    .await;
    bot.audit_until(|rows| {
        rows.iter()
            .any(|(a, r)| a == "/incident resolve" && r == "resolved")
    })
    .await;
    only_the_escalation_notifies(&emu);
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_bytes_in_text_are_refused_in_one_sentence_and_audited() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("none", &[], &[]).await;
    let text = run(
        &emu,
        slash(
            "incident",
            "open",
            INCIDENT_CHANNEL_ID,
            &[("title", json!("web\u{0}down"))],
        ),
    )
    .await;
    assert_eq!(
        text,
        "That input was not accepted: title contains a control character (\\u{0})."
    );
    let rows = bot
        .audit_until(|rows| rows.iter().any(|(a, _)| a == "/incident open"))
        .await;
    assert!(rows.iter().any(
        |(a, r)| a == "/incident open" && r.starts_with("refused: That input was not accepted")
    ));
    let db = bot.db.as_ref().unwrap().client().await;
    let n: i64 = db
        .query_one("SELECT count(*) FROM incidents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "nothing was opened");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_or_password_reaches_a_trace_log() {
    let mut p = Project::new("log-secrets");
    p.start("web", 16, None);
    let db = TestDb::create().await;
    // Trust authentication ignores the password; it is here to be hidden.
    let url = db.url.replacen("postgres@", "postgres:db-pa55-hidden@", 1);
    let emu = Emulator::start().await;
    let am_token = "am-token-0123456789";
    let env = [("RUST_LOG", "trace"), ("ALERTMANAGER_TOKEN", am_token)];
    let bot = Bot::start_on(&emu, &p.name, &env, &url).await;
    bot.wait_log("database ready").await;
    let base = bot.http_base().await;
    for auth in [
        format!("Bearer {am_token}"),
        "Bearer wrong-token-xyz".into(),
    ] {
        reqwest::Client::new()
            .post(format!("{base}/alertmanager"))
            .header("authorization", auth)
            .body(r#"{"version":"4","alerts":[]}"#)
            .send()
            .await
            .unwrap();
    }
    let status = emu
        .slash(crate::harness::status_in(INCIDENT_CHANNEL_ID, responder()))
        .await;
    emu.wait_for(WAIT, |r| is_original_edit(r, &status.token))
        .await;
    let (msg, _) = request_restart(&emu, "web").await;
    let clicked = click(&emu, msg, "approve", bob(), false).await;
    crate::harness::wait_state(&emu, msg, "Approved by bob (<@9003>) and executed").await;
    let log = std::fs::read_to_string(&bot.log).unwrap();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "a verbose log"
    );
    let mut secrets = vec![
        "emulated.bot.token".to_string(),
        am_token.to_string(),
        "db-pa55-hidden".to_string(),
        status.token.clone(),
        clicked.token.clone(),
    ];
    secrets.extend(emu.requests().iter().filter_map(|r| {
        // Every interaction token the bot used, as it appears in paths.
        r.path
            .strip_prefix("/api/v10/webhooks/")
            .and_then(|rest| rest.split('/').nth(1))
            .map(str::to_string)
    }));
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "{s:?} is in the log");
    }
    assert!(log.contains("[redacted]"), "tokens were there to redact");
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_bots_the_one_that_loses_the_race_records_no_failure() {
    let mut p = Project::new("replicas");
    p.start("web", 16, None);
    let db = TestDb::create().await;
    let emu = Emulator::start().await;
    let a = Bot::start_on(&emu, &p.name, &[], &db.url).await;
    a.wait_log("database ready").await;
    let b = Bot::start_on(&emu, &p.name, &[], &db.url).await;
    b.wait_log("database ready").await;
    emu.deliver_to_every_session();
    let mut ids = Vec::new();
    for s in [
        crate::harness::status_in(INCIDENT_CHANNEL_ID, responder()),
        slash("incident", "list", INCIDENT_CHANNEL_ID, &[]),
        restart_slash("web", "memory", alice()),
        // A refusal: no such service.
        restart_slash("nosuch", "memory", alice()),
    ] {
        let sent = emu.slash(s).await;
        ids.push(sent.interaction_id.to_string());
        emu.wait_for(WAIT, |r| {
            is_original_edit(r, &sent.token)
                || (r
                    .path
                    .contains(&format!("/interactions/{}/", sent.interaction_id)))
        })
        .await;
    }
    let client = db.client().await;
    let deadline = std::time::Instant::now() + WAIT;
    let rows = loop {
        let rows: Vec<(String, String)> = client
            .query(
                "SELECT detail->>'interaction_id', result FROM audit_log
                 WHERE detail ? 'interaction_id' ORDER BY id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if rows.len() >= ids.len() * 2 || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for id in &ids {
        let mine: Vec<&String> = rows
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, r)| r)
            .collect();
        assert_eq!(mine.len(), 2, "both bots recorded {id}: {rows:#?}");
        assert_eq!(
            mine.iter()
                .filter(|r| r.as_str() == "skipped: another instance answered it")
                .count(),
            1,
            "{id}: {mine:?}"
        );
        assert!(
            !mine.iter().any(|r| r.starts_with("failed")),
            "{id}: {mine:?}"
        );
    }
    // One request was made, by whichever bot answered.
    let n: i64 = client
        .query_one("SELECT count(*) FROM action_requests", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    drop((a, b));
}
