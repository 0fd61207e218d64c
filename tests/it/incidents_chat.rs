//! Incidents through Discord, recorded in a real PostgreSQL: the lifecycle,
//! timelines, postmortems, the audit log, restarts and a missing database.

use crate::discord::{Emulator, Member, Recorded, Sent, Slash, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use serde_json::json;

fn incident(sub: &str, channel_id: u64, options: &[(&str, &str)]) -> Slash {
    Slash {
        command: "incident".into(),
        subcommand: Some(sub.into()),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
        member: responder(),
        channel_id,
    }
}

/// Sends an interaction and returns the edit of its deferred reply.
async fn run(emu: &Emulator, s: Slash) -> Recorded {
    let sent: Sent = emu.slash(s).await;
    emu.wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await
}

fn content(r: &Recorded) -> String {
    r.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Opens an incident and returns the id of its thread.
async fn open(emu: &Emulator, title: &str) -> u64 {
    let reply = run(
        emu,
        incident("open", INCIDENT_CHANNEL_ID, &[("title", title)]),
    )
    .await;
    let text = content(&reply);
    let thread = text
        .split("<#")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a thread link in {text:?}"));
    assert!(text.starts_with("Opened incident #"), "{text}");
    thread
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_from_open_to_postmortem() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("incident-life", &[("web", 520, None)], &[]).await;
    let thread = open(&emu, "web is eating memory").await;
    assert_thread_starts_with_runbook(&emu, thread);

    let ack = run(&emu, incident("ack", thread, &[])).await;
    assert!(
        content(&ack).contains("acknowledged by <@9001>"),
        "{}",
        content(&ack)
    );

    // A diagnosis in the thread joins the timeline, linked to its report.
    let report = run(&emu, status_in(thread, responder())).await;
    assert!(report.json.as_ref().unwrap()["embeds"][0].is_object());

    resolve_then_refuse_a_late_ack(&emu, thread).await;
    assert_postmortem(&emu, thread).await;
    assert_audit_log_in_chat_order(&bot).await;
}

/// The thread lives in the incident channel and starts with the runbook.
fn assert_thread_starts_with_runbook(emu: &Emulator, thread: u64) {
    let channel = emu.channel(thread).expect("the thread exists");
    assert_eq!(channel["parent_id"], INCIDENT_CHANNEL_ID.to_string());
    let card = &emu.messages_in(thread)[0]["embeds"][0];
    let checklist = card["description"].as_str().unwrap();
    for needle in [
        "1. Check current memory usage: `/mem status`",
        "4. Check for connection pool exhaustion: `/mem connections`",
        "- [ ] Total memory usage < 80%",
        "If unresolved after 1 hour, escalate to: Senior DevOps Engineer",
    ] {
        assert!(checklist.contains(needle), "{needle:?} in {checklist}");
    }
    assert!(card.to_string().contains("30 min"));
}

/// Resolves the incident of `thread` (within the runbook's estimate); a
/// late acknowledgement cannot reopen it.
async fn resolve_then_refuse_a_late_ack(emu: &Emulator, thread: u64) {
    let resolved = run(
        emu,
        incident("resolve", thread, &[("summary", "restarted web")]),
    )
    .await;
    let text = content(&resolved);
    assert!(text.contains("resolved by <@9001>: resolved in"), "{text}");
    assert!(
        text.contains("within the runbook's 30 min estimate"),
        "{text}"
    );
    let late = run(emu, incident("ack", thread, &[])).await;
    assert!(
        content(&late).contains("already resolved"),
        "{}",
        content(&late)
    );
}

/// The postmortem is a Markdown file with the whole timeline.
async fn assert_postmortem(emu: &Emulator, thread: u64) {
    let pm = run(emu, incident("postmortem", thread, &[])).await;
    let (name, bytes) = pm.files.first().expect("a Markdown file");
    assert!(
        name.starts_with("incident-") && name.ends_with("-postmortem.md"),
        "{name}"
    );
    let md = String::from_utf8(bytes.clone()).unwrap();
    for needle in [
        "# Postmortem: incident #",
        "web is eating memory",
        "## Timeline",
        "acknowledged",
        "diagnosis: /mem status: total",
        "[FAIL] ([report](",
        "- Resolution: restarted web",
        "## Reports and verdicts",
    ] {
        assert!(md.contains(needle), "{needle:?} in\n{md}");
    }
}

/// Every command of the lifecycle test, the refusal included, is in the
/// audit log, and `incident-bot audit` shows it in the terminal.
async fn assert_audit_log_in_chat_order(bot: &Bot) {
    let rows = bot.audit_until(|rows| rows.len() >= 6).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "/incident open",
            "/incident ack",
            "/mem status",
            "/incident resolve",
            "/incident ack",
            "/incident postmortem"
        ]
    );
    assert_eq!(rows[2].1, "fail", "the verdict is recorded");
    assert!(rows[4].1.starts_with("refused: "), "{:?}", rows[4]);

    // And the terminal shows it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_incident-bot"))
        .args(["audit", "--since", "1h"])
        .env("DATABASE_URL", &bot.db.as_ref().unwrap().url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.lines().count(), 6, "{printed}");
    assert!(printed.contains("/incident resolve"), "{printed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_audited_too() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("none", &[], &[]).await;
    let outsider = Member {
        user_id: 9002,
        name: "mallory".into(),
        roles: vec![],
    };
    let sent = emu
        .slash(Slash {
            member: outsider,
            ..incident("open", INCIDENT_CHANNEL_ID, &[("title", "x")])
        })
        .await;
    emu.wait_for(WAIT, |r| {
        r.path
            .contains(&format!("/interactions/{}/", sent.interaction_id))
    })
    .await;
    let db = bot.db.as_ref().unwrap().client().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let rows = db
            .query("SELECT actor, action, result FROM audit_log", &[])
            .await
            .unwrap();
        if let Some(r) = rows.first() {
            assert_eq!(r.get::<_, String>(1), "/incident open");
            assert!(r.get::<_, String>(0).contains("<@9002>"));
            assert!(r
                .get::<_, String>(2)
                .starts_with("refused: You need a responder role"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no audit row");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let incidents: i64 = db
        .query_one("SELECT count(*) FROM incidents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(incidents, 0, "nothing was opened");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_resolving_at_once_make_one_resolution() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("none", &[], &[]).await;
    let thread = open(&emu, "race").await;
    let (a, b) = tokio::join!(
        run(&emu, incident("resolve", thread, &[("summary", "one")])),
        run(&emu, incident("resolve", thread, &[("summary", "two")])),
    );
    let texts = [content(&a), content(&b)];
    let winners = texts.iter().filter(|t| t.contains(": resolved in")).count();
    let losers = texts
        .iter()
        .filter(|t| t.contains("already resolved"))
        .count();
    assert_eq!((winners, losers), (1, 1), "{texts:?}");
    let db = bot.db.as_ref().unwrap().client().await;
    let resolutions: i64 = db
        .query_one("SELECT count(*) FROM timeline WHERE kind = 'resolved'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(resolutions, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_bot_still_knows_the_incident() {
    let TestApp {
        project: _p,
        emu,
        bot: mut first,
    } = spawn_app("none", &[], &[]).await;
    let thread = open(&emu, "survives restarts").await;
    let db = first.db.take().unwrap();
    first.kill();

    let second = Bot::start_on(&emu, "ibt-none", &[], &db.url).await;
    second.wait_log("database ready").await;
    let status = run(&emu, incident("status", thread, &[])).await;
    let embed = &status.json.as_ref().unwrap()["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .unwrap()
            .ends_with(": survives restarts"),
        "{embed:#}"
    );
    assert!(embed.to_string().contains("open"), "{embed:#}");
    drop(second);
    drop(db);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_database_diagnosis_answers_and_recording_refuses() {
    let mut p = Project::new("no-db");
    p.start("web", 16, None);
    let emu = Emulator::start().await;
    let bot = Bot::start_on(
        &emu,
        &p.name,
        &[],
        "postgres://bot:secret-pw@127.0.0.1:1/incidents",
    )
    .await;
    bot.wait_log("cannot prepare the database").await;

    let report = run(&emu, status_in(INCIDENT_CHANNEL_ID, responder())).await;
    assert!(
        report.json.as_ref().unwrap()["embeds"][0].is_object(),
        "diagnosis still works"
    );

    let sent = emu
        .slash(incident("open", INCIDENT_CHANNEL_ID, &[("title", "x")]))
        .await;
    let reply = emu
        .wait_for(WAIT, |r| {
            r.path
                .contains(&format!("/interactions/{}/", sent.interaction_id))
        })
        .await;
    let text = reply.json.as_ref().unwrap()["data"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("was not run: it must be recorded, and the database at 127.0.0.1:1/incidents is not reachable"),
        "{text}"
    );
    let log = std::fs::read_to_string(&bot.log).unwrap();
    assert!(
        !log.contains("secret-pw"),
        "the database password leaked into the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_database_goes_away_diagnosis_answers_and_recording_refuses() {
    let TestApp {
        project: _p,
        emu,
        mut bot,
    } = spawn_app("db-gone", &[("web", 16, None)], &[]).await;
    let thread = open(&emu, "before the outage").await;
    // The database disappears under the running bot.
    drop(bot.db.take());

    let report = run(&emu, status_in(thread, responder())).await;
    assert!(
        report.json.as_ref().unwrap()["embeds"][0].is_object(),
        "diagnosis still works"
    );
    let ack = run(&emu, incident("ack", thread, &[])).await;
    let text = content(&ack);
    assert!(
        text.starts_with("Nothing was recorded: the database at"),
        "{text}"
    );
    assert!(text.contains("Diagnosis commands still work"), "{text}");
}
