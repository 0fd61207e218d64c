//! Paging stepped in-process with a chosen clock (as `loops.rs`: the real
//! store, engine and containers; the chat port in memory). Pages repeat at
//! the severity's interval while nobody acknowledges and climb the roster;
//! an acknowledgement stops them; each page goes to the thread, by direct
//! message and to the paging webhook (a local receiver), which is retried
//! when it fails and never sent twice once accepted; a silence holds an
//! alert back and its end hands it on.

use crate::harness::memory_chat::MemoryChat;
use crate::harness::{Project, Receiver, TestDb};
use crate::loops::{app_with, container_id, oom_event, CHANNEL};
use incident_bot::app::{alerts, incidents, paging, silences, App, Caller};
use incident_bot::core::alerting::{AlertEvent, AlertSource, HIGH_MEMORY};
use incident_bot::core::incident::Request;
use incident_bot::render::Mentions;
use time::{Duration, OffsetDateTime};

const ONCALL: u64 = 8100;
const SENIOR: u64 = 8101;
const LEAD: u64 = 8102;
const INCIDENT_LEAD: u64 = 8200;

fn roster() -> Vec<(String, u64)> {
    vec![
        ("on_call".to_string(), ONCALL),
        ("senior_devops_engineer".to_string(), SENIOR),
        ("devops_lead".to_string(), LEAD),
    ]
}

/// Who each posted ping notified, in order.
fn pinged(chat: &MemoryChat) -> Vec<Vec<u64>> {
    chat.posts()
        .into_iter()
        .filter_map(|(_, _, m)| match m.mentions {
            Mentions::Exactly { users, .. } => Some(users),
            Mentions::None => None,
        })
        .collect()
}

/// An OOM kill of a running `web` container opens an incident (sev2 in
/// the shipped runbook: pages every 10 minutes); its id and thread.
async fn oom_incident(app: &App, p: &mut Project, t0: OffsetDateTime) -> (i64, u64) {
    let name = p.start("web", 8, None);
    let id = container_id(&name);
    let opened = alerts::handle(app, oom_event(&id, &name, t0)).await;
    let alerts::Handled::Opened {
        incident,
        joined: false,
    } = opened
    else {
        panic!("{opened:?}");
    };
    let inc = app.store.incident(incident).await.unwrap().unwrap();
    assert_eq!(inc.severity, "sev2");
    (incident, inc.thread_id.unwrap() as u64)
}

fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

#[tokio::test(flavor = "multi_thread")]
async fn unacknowledged_pages_repeat_then_climb_the_roster_until_acknowledged() {
    let mut p = Project::new("paging-climb");
    let db = TestDb::create().await;
    let (app, chat) = app_with(&db, &p.name, roster(), &[]).await;
    let t0 = OffsetDateTime::now_utc();
    let (incident, thread) = oom_incident(&app, &mut p, t0).await;

    let first = paging::tick(&app, t0).await.unwrap();
    assert_eq!((first.planned, first.delivered, first.failed), (1, 2, 0));
    assert_eq!(pinged(&chat), [vec![ONCALL]], "the on-call person, at once");
    let dms = chat.directs();
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0].0, ONCALL);
    let dm = dms[0].1.content.clone().unwrap();
    assert!(dm.contains(&format!("incident #{incident}")), "{dm}");
    let page = chat
        .posts_in(thread)
        .last()
        .unwrap()
        .content
        .clone()
        .unwrap();
    assert!(page.contains("SEV2 Service at risk"), "{page}");
    assert!(
        page.contains("next page goes to the On-call engineer"),
        "{page}"
    );

    assert_eq!(
        paging::tick(&app, t0 + mins(9)).await.unwrap().planned,
        0,
        "not before the interval"
    );
    assert_eq!(paging::tick(&app, t0 + mins(10)).await.unwrap().planned, 1);
    assert_eq!(paging::tick(&app, t0 + mins(20)).await.unwrap().planned, 1);
    assert_eq!(
        pinged(&chat),
        [vec![ONCALL], vec![ONCALL], vec![SENIOR]],
        "again, then the next level up"
    );

    let acked = incidents::transition(&app, thread, &Request::Acknowledge { by: "alice".into() })
        .await
        .unwrap();
    assert!(matches!(acked, incidents::Transitioned::Done { .. }));
    for later in [30, 40, 120] {
        assert_eq!(
            paging::tick(&app, t0 + mins(later)).await.unwrap().planned,
            0,
            "acknowledged"
        );
    }
    assert_eq!(pinged(&chat).len(), 3);
    let pages = app.store.pages(incident).await.unwrap();
    let roles: Vec<&str> = pages.iter().map(|p| p.role.as_str()).collect();
    assert_eq!(roles, ["on_call", "on_call", "senior_devops_engineer"]);
    for page in &pages {
        let how: Vec<(&str, &str)> = page
            .deliveries
            .iter()
            .map(|(m, _, s, _)| (m.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            how,
            [("channel", "delivered"), ("dm", "delivered")],
            "{page:?}"
        );
    }
    assert_eq!(
        pages[1].at - pages[0].at,
        mins(10),
        "every page is a row with its time"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_is_retried_until_accepted_and_never_sent_twice() {
    let mut p = Project::new("paging-webhook");
    let db = TestDb::create().await;
    let rx = Receiver::start(&[500, 503]).await;
    let url = format!("{}/v2/enqueue", rx.base);
    let env = [
        ("PAGING_WEBHOOK_URL", url.as_str()),
        ("PAGING_ROUTING_KEY", "rk-test"),
    ];
    let (app, _chat) = app_with(&db, &p.name, roster(), &env).await;
    let t0 = OffsetDateTime::now_utc();
    let (incident, thread) = oom_incident(&app, &mut p, t0).await;

    let first = paging::tick(&app, t0).await.unwrap();
    assert_eq!(
        (first.delivered, first.failed),
        (2, 1),
        "thread and DM; the webhook failed"
    );
    assert_eq!(
        paging::tick(&app, t0).await.unwrap().failed,
        0,
        "not retried at once"
    );
    let mut now = t0;
    while rx.accepted().is_empty() {
        now += Duration::seconds(3);
        assert!(now < t0 + mins(2), "never accepted: {:?}", rx.got());
        paging::tick(&app, now).await.unwrap();
    }
    for later in [1, 5, 9] {
        paging::tick(&app, now + mins(later)).await.unwrap();
    }
    let got = rx.got();
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 503, 202],
        "retried after each failure, then never again"
    );
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same event each time"
    );
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/v2/enqueue")
    );
    let event = &got[0].body;
    assert_eq!(event["routing_key"], "rk-test");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(
        event["dedup_key"],
        format!("incident-bot/0/incident-{incident}")
    );
    assert_eq!(
        event["payload"]["severity"], "error",
        "sev2's event severity"
    );
    assert_eq!(event["payload"]["custom_details"]["page"], 1);
    assert!(event["payload"]["summary"]
        .as_str()
        .unwrap()
        .contains("[SEV2]"));

    incidents::transition(&app, thread, &Request::Acknowledge { by: "bob".into() })
        .await
        .unwrap();
    paging::tick(&app, now + mins(11)).await.unwrap();
    let last = rx.got().last().unwrap().body.clone();
    assert_eq!(
        last["event_action"], "acknowledge",
        "the paging service is told"
    );
    assert_eq!(last["dedup_key"], event["dedup_key"]);
    let pages = app.store.pages(incident).await.unwrap();
    assert_eq!(pages.len(), 1, "no page after the acknowledgement");
    let webhook: Vec<_> = pages[0]
        .deliveries
        .iter()
        .filter(|d| d.0 == "webhook")
        .collect();
    assert_eq!(webhook[0].1, "trigger");
    assert_eq!((webhook[0].2.as_str(), webhook[0].3), ("delivered", 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_event_fails_at_once_and_the_channel_page_still_goes() {
    let mut p = Project::new("paging-refused");
    let db = TestDb::create().await;
    let rx = Receiver::start(&[400]).await;
    let env = [
        ("PAGING_WEBHOOK_URL", rx.base.as_str()),
        ("PAGING_ROUTING_KEY", "wrong"),
    ];
    let (app, chat) = app_with(&db, &p.name, roster(), &env).await;
    let t0 = OffsetDateTime::now_utc();
    let (incident, _) = oom_incident(&app, &mut p, t0).await;
    paging::tick(&app, t0).await.unwrap();
    for s in [5, 30, 120] {
        paging::tick(&app, t0 + Duration::seconds(s)).await.unwrap();
    }
    assert_eq!(rx.got().len(), 1, "a 400 cannot get better by retrying");
    assert_eq!(pinged(&chat), [vec![ONCALL]]);
    let pages = app.store.pages(incident).await.unwrap();
    let webhook = pages[0]
        .deliveries
        .iter()
        .find(|d| d.0 == "webhook")
        .unwrap();
    assert_eq!(webhook.2, "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silence_holds_an_alert_back_and_its_end_hands_it_on() {
    let mut p = Project::new("paging-silence");
    let db = TestDb::create().await;
    let (app, chat) = app_with(&db, &p.name, roster(), &[]).await;
    let alice = Caller {
        user_id: 77,
        name: "alice".into(),
        channel_id: CHANNEL,
        parent_id: None,
        roles: vec![],
    };
    let added = silences::add(&app, &alice, "mem", "web", Some(30), "planned restart")
        .await
        .unwrap();
    let silences::Added::Silenced(s) = added else {
        panic!("refused");
    };
    let name = p.start("web", 8, None);
    let id = container_id(&name);
    let t0 = OffsetDateTime::now_utc();
    let held = alerts::handle(&app, oom_event(&id, &name, t0)).await;
    assert_eq!(held, alerts::Handled::Silenced { silence: s.id });
    assert!(chat.posts().is_empty(), "nothing is posted");
    assert!(
        app.store.unresolved_incidents().await.unwrap().is_empty(),
        "no incident"
    );
    assert_eq!(
        paging::tick(&app, t0 + mins(5)).await.unwrap().planned,
        0,
        "nobody paged"
    );
    let again = alerts::handle(&app, oom_event(&id, &name, t0 + Duration::seconds(1))).await;
    assert_eq!(again, alerts::Handled::Nothing, "still held back");

    assert_eq!(
        alerts::held::tick(&app, t0 + mins(29)).await.unwrap(),
        0,
        "in force"
    );
    assert_eq!(
        alerts::held::tick(&app, t0 + mins(31)).await.unwrap(),
        1,
        "expired"
    );
    assert_eq!(
        alerts::held::tick(&app, t0 + mins(32)).await.unwrap(),
        0,
        "handled once"
    );
    let said = chat.posts_in(CHANNEL);
    assert!(
        said.iter()
            .any(|m| m.content.as_deref().unwrap_or("").contains("expired")
                && m.content.as_deref().unwrap_or("").contains("1 alert(s)")),
        "{said:#?}"
    );
    let open = app.store.unresolved_incidents().await.unwrap();
    assert_eq!(open.len(), 1, "the alert still firing opened its incident");
    paging::tick(&app, t0 + mins(31)).await.unwrap();
    assert_eq!(pinged(&chat), [vec![ONCALL]], "and pages");
}

/// The bot's HighMemoryUsage alert for `web`, firing or resolved, at `at`.
fn high_memory(firing: bool, at: OffsetDateTime) -> AlertEvent {
    AlertEvent {
        name: HIGH_MEMORY.into(),
        firing,
        fingerprint: AlertEvent::fingerprint_of(HIGH_MEMORY, Some("test"), "web", None),
        service: Some("web".into()),
        container: None,
        summary: "web over the bar".into(),
        source: AlertSource::Bot,
        at,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_that_flaps_is_one_alert_counted_on_its_one_report() {
    let p = Project::new("paging-flap");
    let db = TestDb::create().await;
    let (app, chat) = app_with(&db, &p.name, roster(), &[]).await;
    let t0 = OffsetDateTime::now_utc();
    let opened = alerts::handle(&app, high_memory(true, t0)).await;
    let alerts::Handled::Opened { incident, .. } = opened else {
        panic!("{opened:?}");
    };
    let report = chat
        .posts_in(CHANNEL)
        .last()
        .map(|_| chat.posts().last().unwrap().1);
    let resolved = alerts::handle(&app, high_memory(false, t0 + mins(1))).await;
    assert_eq!(resolved, alerts::Handled::Resolved { incident });
    // Within the runbook's 10-minute flap window: the same alert again.
    let again = alerts::handle(&app, high_memory(true, t0 + mins(3))).await;
    let alerts::Handled::Counted {
        incident: same,
        count,
    } = again
    else {
        panic!("{again:?}");
    };
    assert_eq!(same, incident);
    assert!(
        count.contains("fired 2× since") && count.contains("cleared and fired again 1×"),
        "{count}"
    );
    assert!(
        chat.edits().iter().any(|(_, m, e)| Some(*m) == report
            && e.content
                .as_deref()
                .unwrap_or("")
                .contains("cleared and fired again 1×")),
        "the one report is edited"
    );
    let rows: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM alerts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "one alert");
    // Past the window, a firing is a new alert.
    alerts::handle(&app, high_memory(false, t0 + mins(4))).await;
    let later = alerts::handle(&app, high_memory(true, t0 + mins(15))).await;
    assert!(matches!(later, alerts::Handled::Opened { .. }), "{later:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn repeat_pages_reach_the_incident_lead_first() {
    let mut p = Project::new("paging-lead");
    let db = TestDb::create().await;
    let (app, chat) = app_with(&db, &p.name, roster(), &[]).await;
    let t0 = OffsetDateTime::now_utc();
    let (incident, thread) = oom_incident(&app, &mut p, t0).await;
    app.store
        .set_lead(incident, INCIDENT_LEAD)
        .await
        .unwrap()
        .unwrap();
    for m in [0, 10, 20] {
        assert_eq!(paging::tick(&app, t0 + mins(m)).await.unwrap().planned, 1);
    }
    assert_eq!(
        pinged(&chat),
        [vec![ONCALL], vec![INCIDENT_LEAD], vec![SENIOR]],
        "on-call at once, the lead for the repeat, then the climb"
    );
    let first = chat
        .posts_in(thread)
        .iter()
        .filter_map(|m| m.content.clone())
        .find(|c| c.starts_with("**Page 1**"))
        .unwrap();
    assert!(
        first.contains("next page goes to the Incident lead"),
        "{first}"
    );
}
