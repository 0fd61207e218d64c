//! Paging through the whole bot: the real serenity client against the
//! emulator, real Docker (a container the kernel's OOM killer really
//! kills), real PostgreSQL, and a local receiver standing in for the
//! paging service and the heartbeat URL. Repeat pages are brought forward
//! by moving `paging_next_at` in the database, never by waiting.

use crate::discord::{notified, Emulator, INCIDENT_CHANNEL_ID};
use crate::escalation_chat::{run, slash};
use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ONCALL: u64 = 5_550_001;
const SENIOR: u64 = 5_550_002;

/// Who each message posted in `channel` notified, in order (only those
/// that notify someone).
fn pinged_in(emu: &Emulator, channel: u64) -> Vec<Vec<u64>> {
    let path = format!("/api/v10/channels/{channel}/messages");
    emu.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .filter_map(notified)
        .filter(|n| !n.is_empty())
        .map(|n| n.users)
        .collect()
}

/// The page messages (`**Page N**`) in `channel`.
fn pages_in(emu: &Emulator, channel: u64) -> Vec<String> {
    emu.messages_in(channel)
        .iter()
        .filter_map(|m| m["content"].as_str())
        .filter(|c| c.starts_with("**Page "))
        .map(str::to_string)
        .collect()
}

async fn wait_pages(emu: &Emulator, channel: u64, n: usize) -> Vec<String> {
    emu.wait_until(WAIT, "page messages", |emu| {
        let found = pages_in(emu, channel);
        (found.len() >= n).then_some(found)
    })
    .await
}

async fn wait_text(emu: &Emulator, channel: u64, what: &str, needle: &str) -> String {
    emu.wait_until(WAIT, what, |emu| {
        emu.messages_in(channel)
            .iter()
            .filter_map(|m| m["content"].as_str())
            .find(|c| c.contains(needle))
            .map(str::to_string)
    })
    .await
}

/// A web container that grows past its 48 MB limit at once and, without
/// a restart policy, stays down after the kill.
fn oom_web(p: &mut Project) -> String {
    p.start_full(
        "web",
        8,
        Some(48),
        &[],
        &["--grow-mb", "16", "--every-ms", "50"],
    )
}

async fn move_next_page_to_now(db: &tokio_postgres::Client) -> u64 {
    db.execute(
        "UPDATE incidents SET paging_next_at = now() WHERE paging_next_at IS NOT NULL",
        &[],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_oom_kill_pages_until_acknowledged_in_the_thread_by_dm_and_webhook() {
    let mut p = Project::new("page-oom");
    let emu = Emulator::start().await;
    let rx = Receiver::start(&[500]).await;
    let url = format!("{}/v2/enqueue", rx.base);
    let (oncall, senior) = (ONCALL.to_string(), SENIOR.to_string());
    let env = [
        ("INCIDENT_BOT_DISCORD__ROSTER__ON_CALL", oncall.as_str()),
        (
            "INCIDENT_BOT_DISCORD__ROSTER__SENIOR_DEVOPS_ENGINEER",
            senior.as_str(),
        ),
        ("INCIDENT_BOT_PAGING__TICK_MS", "200"),
        ("INCIDENT_BOT_ESCALATION__OOM_GRACE_SECS", "2"),
        ("PAGING_WEBHOOK_URL", url.as_str()),
        ("PAGING_ROUTING_KEY", "rk-chat"),
    ];
    let bot = Bot::start(&emu, &p.name, &env).await;
    bot.wait_log("watcher following the engine").await;
    let _web = oom_web(&mut p);
    let thread = bot.wait_incident_thread().await;
    let first = wait_pages(&emu, thread, 1).await;
    assert!(first[0].contains(&format!("<@{ONCALL}>")), "{}", first[0]);
    assert_eq!(
        pinged_in(&emu, thread)[0],
        [ONCALL],
        "exactly the on-call person"
    );
    let dm = emu
        .wait_until(WAIT, "the direct message", |emu| {
            emu.direct_messages(ONCALL).into_iter().next()
        })
        .await;
    assert!(
        dm["content"].as_str().unwrap().contains("incident #1"),
        "{dm}"
    );
    emu.wait_until(WAIT, "the webhook accepted after a retry", |_| {
        (rx.accepted().len() == 1).then_some(())
    })
    .await;
    assert_eq!(rx.got()[0].status, 500, "the first try failed");
    // The kill took the service down: the highest severity.
    wait_text(&emu, thread, "the severity raised", "**SEV1 Service down**").await;

    let db = bot.db.as_ref().unwrap().client().await;
    for n in 2..=3 {
        assert_eq!(move_next_page_to_now(&db).await, 1);
        wait_pages(&emu, thread, n).await;
    }
    let pages = wait_pages(&emu, thread, 3).await;
    assert!(pages[1].contains(&format!("<@{ONCALL}>")), "{}", pages[1]);
    assert!(
        pages[2].contains(&format!("<@{SENIOR}>")),
        "the next level: {}",
        pages[2]
    );
    let triggers = |rx: &Receiver| {
        rx.accepted()
            .iter()
            .filter(|r| r.body["event_action"] == "trigger")
            .map(|r| r.body["payload"]["custom_details"]["page"].clone())
            .collect::<Vec<Value>>()
    };
    emu.wait_until(WAIT, "the third page's event", |_| {
        (triggers(&rx).len() == 3).then_some(())
    })
    .await;
    let said = run(&emu, slash("incident", "ack", thread, &[])).await;
    assert!(said.contains("acknowledged"), "{said}");
    assert_eq!(
        move_next_page_to_now(&db).await,
        0,
        "no next page is planned"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        pages_in(&emu, thread).len(),
        3,
        "the acknowledgement stopped them"
    );
    emu.wait_until(WAIT, "the acknowledge event", |_| {
        rx.accepted()
            .iter()
            .find(|r| r.body["event_action"] == "acknowledge")
            .cloned()
    })
    .await;
    assert_eq!(
        triggers(&rx),
        [json!(1), json!(2), json!(3)],
        "one event per page, none twice"
    );
    let rows: Vec<(i32, String, String, String)> = db
        .query(
            "SELECT p.seq, p.role, d.medium, d.state FROM pages p
             JOIN page_deliveries d ON d.page_id = p.id AND d.event = 'trigger'
             ORDER BY p.seq, d.id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(rows.len(), 9, "three pages, each by three ways: {rows:?}");
    assert!(rows.iter().all(|r| r.3 == "delivered"), "{rows:?}");
    assert_eq!(emu.direct_messages(ONCALL).len(), 2);
    assert_eq!(emu.direct_messages(SENIOR).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silenced_service_opens_nothing_and_pages_nobody_until_the_silence_ends() {
    let mut p = Project::new("page-silence");
    let emu = Emulator::start().await;
    let oncall = ONCALL.to_string();
    let env = [
        ("INCIDENT_BOT_DISCORD__ROSTER__ON_CALL", oncall.as_str()),
        ("INCIDENT_BOT_PAGING__TICK_MS", "200"),
    ];
    let bot = Bot::start(&emu, &p.name, &env).await;
    bot.wait_log("watcher following the engine").await;
    p.start("beat", 8, None);
    let in_channel =
        |sub: &str, options: &[(&str, Value)]| slash("mem", sub, INCIDENT_CHANNEL_ID, options);

    let said = run(
        &emu,
        in_channel(
            "silence",
            &[("service", json!("all")), ("reason", json!("try it"))],
        ),
    )
    .await;
    assert!(
        said.starts_with("Silence #1 for every service until"),
        "{said}"
    );
    let said = run(&emu, in_channel("unsilence", &[("id", json!(1))])).await;
    assert!(
        said.starts_with("Silence #1 for every service ended"),
        "{said}"
    );
    let said = run(&emu, in_channel("unsilence", &[("id", json!(1))])).await;
    assert!(said.contains("not in force"), "{said}");

    let said = run(
        &emu,
        in_channel(
            "silence",
            &[
                ("service", json!("web")),
                ("minutes", json!(30)),
                ("reason", json!("planned restart")),
            ],
        ),
    )
    .await;
    assert!(said.starts_with("Silence #2 for web until"), "{said}");
    let listed = run(&emu, in_channel("silences", &[])).await;
    assert!(
        listed.contains("#2 · web until") && listed.contains("planned restart"),
        "{listed}"
    );
    let status = mem(&emu, "status", vec![]).await;
    let footer = status["embeds"][0]["footer"]["text"].as_str().unwrap_or("");
    assert!(footer.contains("Silenced: #2 web until"), "{status}");

    let _web = oom_web(&mut p);
    let db = bot.db.as_ref().unwrap().client().await;
    let deadline = Instant::now() + WAIT;
    loop {
        let held: i64 = db
            .query_one("SELECT count(*) FROM alerts WHERE silenced_by = 2", &[])
            .await
            .unwrap()
            .get(0);
        if held == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the OOM kill was never held back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let incidents: i64 = db
        .query_one("SELECT count(*) FROM incidents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(incidents, 0, "no incident while silenced");
    assert!(
        pinged_in(&emu, INCIDENT_CHANNEL_ID).is_empty(),
        "nobody paged"
    );
    assert!(emu.direct_messages(ONCALL).is_empty());
    bot.audit_until(|rows| {
        rows.iter().any(|(a, r)| {
            a == "alert OomKiller firing (bot)" && r.starts_with("silenced by silence #2")
        })
    })
    .await;

    // The silence expires (its end moved to now in the database): the
    // alert still firing opens its incident and pages.
    db.execute("UPDATE silences SET ends_at = now() WHERE id = 2", &[])
        .await
        .unwrap();
    let ended = wait_text(&emu, INCIDENT_CHANNEL_ID, "the silence's end", "Silence #2").await;
    assert!(
        ended.contains("expired") && ended.contains("1 alert(s)"),
        "{ended}"
    );
    let thread = bot.wait_incident_thread().await;
    let pages = wait_pages(&emu, thread, 1).await;
    assert!(pages[0].contains(&format!("<@{ONCALL}>")), "{}", pages[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_says_when_it_is_blind_and_when_it_sees_and_beats_only_while_it_sees() {
    let p = Project::new("page-blind");
    let emu = Emulator::start().await;
    let proxy = EngineProxy::start(Duration::ZERO);
    let endpoint = proxy.endpoint();
    let rx = Receiver::start(&[]).await;
    let beat = format!("{}/beat", rx.base);
    let env = [
        ("DOCKER_HOST", endpoint.as_str()),
        ("INCIDENT_BOT_PAGING__BLIND_AFTER_SECS", "2"),
        ("INCIDENT_BOT_PAGING__HEARTBEAT_SECS", "1"),
        ("INCIDENT_BOT_DOCKER__TIMEOUT_SECS", "1"),
        ("HEARTBEAT_URL", beat.as_str()),
    ];
    let bot = Bot::start(&emu, &p.name, &env).await;
    bot.wait_log("watcher following the engine").await;
    let beats = |rx: &Receiver| {
        rx.got()
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/beat")
            .count()
    };
    emu.wait_until(WAIT, "heartbeats", |_| (beats(&rx) >= 2).then_some(()))
        .await;

    proxy.set_up(false);
    let blind = wait_text(
        &emu,
        INCIDENT_CHANNEL_ID,
        "the blind message",
        "**I cannot see**",
    )
    .await;
    assert!(
        blind.contains("the Docker engine does not answer"),
        "{blind}"
    );
    let base = bot.http_base().await;
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("incident_bot_blind{what=\"engine\"} 1"),
        "{metrics}"
    );
    let while_blind = beats(&rx);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(beats(&rx) <= while_blind + 1, "no heartbeat while blind");

    proxy.set_up(true);
    let back = wait_text(
        &emu,
        INCIDENT_CHANNEL_ID,
        "the seeing-again message",
        "**I can see again**",
    )
    .await;
    assert!(back.contains("the engine is back after"), "{back}");
    let again = beats(&rx);
    emu.wait_until(WAIT, "heartbeats again", |_| {
        (beats(&rx) >= again + 2).then_some(())
    })
    .await;
    let said: Vec<String> = emu
        .messages_in(INCIDENT_CHANNEL_ID)
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_string))
        .filter(|c| c.contains("I cannot see") || c.contains("I can see again"))
        .collect();
    assert_eq!(said.len(), 2, "each said once: {said:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn severity_is_in_the_title_and_thread_and_changes_by_hand() {
    let p = Project::new("page-severity");
    let emu = Emulator::start().await;
    let bot = Bot::start(&emu, &p.name, &[("INCIDENT_BOT_PAGING__TICK_MS", "200")]).await;
    let said = run(
        &emu,
        slash(
            "incident",
            "open",
            INCIDENT_CHANNEL_ID,
            &[("title", json!("slow leak"))],
        ),
    )
    .await;
    let thread = bot.wait_incident_thread().await;
    assert!(said.contains(&format!("<#{thread}>")), "{said}");
    wait_text(
        &emu,
        INCIDENT_CHANNEL_ID,
        "the announcement",
        "[SEV2 Service at risk]",
    )
    .await;
    let said = run(
        &emu,
        slash("incident", "severity", thread, &[("level", json!("sev1"))]),
    )
    .await;
    assert_eq!(
        said,
        "Incident #1 is now SEV1 Service down (was SEV2 Service at risk)."
    );
    wait_text(
        &emu,
        thread,
        "the change in the thread",
        "Severity changed from SEV2",
    )
    .await;
    let said = run(
        &emu,
        slash("incident", "severity", thread, &[("level", json!("sev1"))]),
    )
    .await;
    assert!(said.contains("is SEV1 already"), "{said}");

    // A lead is named: said in the thread (pinging them), and the pinned
    // header shows severity, lead, state and the next check.
    let said = run(
        &emu,
        slash("incident", "lead", thread, &[("member", json!("5550003"))]),
    )
    .await;
    assert_eq!(said, "<@5550003> leads incident #1.");
    wait_text(&emu, thread, "the handover", "<@5550003> leads, named by").await;
    let pinged = pinged_in(&emu, thread);
    assert!(
        pinged
            .iter()
            .any(|users| users.iter().all(|u| *u == 5_550_003)),
        "the new lead is pinged, and only them: {pinged:?}"
    );
    let header = emu
        .wait_until(WAIT, "the header showing the lead", |emu| {
            emu.messages_in(thread).into_iter().find(|m| {
                let c = m["content"].as_str().unwrap_or("");
                c.starts_with("📌 **Incident #1**") && c.contains("Lead: <@5550003>")
            })
        })
        .await;
    assert_eq!(header["pinned"], true, "{header}");
    let text = header["content"].as_str().unwrap();
    assert!(
        text.contains("SEV1 Service down") && text.contains("open"),
        "{text}"
    );
    let headers = emu
        .messages_in(thread)
        .iter()
        .filter(|m| m["content"].as_str().unwrap_or("").starts_with("📌"))
        .count();
    assert_eq!(headers, 1, "one header, edited in place");
    let db = bot.db.as_ref().unwrap().client().await;
    let (severity, next): (String, Option<time::OffsetDateTime>) = {
        let r = db
            .query_one("SELECT severity, paging_next_at FROM incidents", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(severity, "sev1");
    assert_eq!(next, None, "an incident opened by hand does not page");
    assert!(pages_in(&emu, thread).is_empty());
}
