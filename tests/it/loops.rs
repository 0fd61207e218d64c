//! The application's loops stepped in-process with a chosen clock: the
//! real store on a fresh database, the real engine and containers, and the
//! chat port in memory (`harness::memory_chat`; Discord is the one part
//! replaced). Each test calls a loop's one step, `tick(now)`, at the
//! moments that matter (just before a deadline, at it, after it) instead
//! of waiting for the timer; the same steps run under `loops::spawn` in the
//! bot.

use crate::harness::memory_chat::MemoryChat;
use crate::harness::{docker, Project, TestDb};
use incident_bot::app::{alerts, escalation, incidents, oom, updates, App, Parts};
use incident_bot::config::Settings;
use incident_bot::core::alerting::{AlertEvent, AlertSource, OOM_KILLER};
use incident_bot::docker::Engine;
use incident_bot::health::Health;
use incident_bot::render::{Mentions, Message};
use incident_bot::watch::Watcher;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

pub(crate) const CHANNEL: u64 = 4242;
const SENIOR: u64 = 8101;
const LEAD: u64 = 8102;

/// The application on `db`, watching `project`, posting into memory; the
/// database supervisor runs (migrations, then probes), the loops do not.
async fn app_on(db: &TestDb, project: &str) -> (Arc<App>, Arc<MemoryChat>) {
    let roster = vec![
        ("senior_devops_engineer".to_string(), SENIOR),
        ("devops_lead".to_string(), LEAD),
    ];
    app_with(db, project, roster, &[]).await
}

/// As [`app_on`], with this roster and these environment variables.
pub(crate) async fn app_with(
    db: &TestDb,
    project: &str,
    roster: Vec<(String, u64)>,
    env: &[(&str, &str)],
) -> (Arc<App>, Arc<MemoryChat>) {
    let var = |k: &str| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    };
    let mut settings = Settings::load_with(None, var).expect("the settings load");
    settings.watch.project = project.into();
    settings.discord.incident_channel_id = CHANNEL;
    let runbooks = incident_bot::runbooks::load_configured(&settings).expect("the runbooks load");
    let store = db.store().await;
    let engine = Engine::from_settings(&settings).unwrap();
    let health = Arc::new(Health::default());
    let (alerts, _queue) = tokio::sync::mpsc::channel(16);
    let watcher = Watcher::new(
        settings.clone(),
        &runbooks,
        engine.clone(),
        store.clone(),
        health.clone(),
        alerts,
    );
    tokio::spawn(incident_bot::health::supervise_database(
        store.clone(),
        health.clone(),
        roster,
    ));
    assert!(
        health.wait_db(Duration::from_secs(20)).await,
        "database ready"
    );
    let chat = Arc::new(MemoryChat::default());
    let app = Arc::new(App::new(Parts {
        settings,
        runbooks,
        store,
        engine,
        watcher,
        health,
        chat: chat.clone(),
        instance: "test:1:0".into(),
    }));
    (app, chat)
}

/// The posted messages that notify someone, with whom.
fn pings(chat: &MemoryChat) -> Vec<(String, Vec<u64>)> {
    chat.posts()
        .into_iter()
        .filter_map(|(_, _, m): (u64, u64, Message)| match m.mentions {
            Mentions::Exactly { users, .. } => Some((m.content.unwrap_or_default(), users)),
            Mentions::None => None,
        })
        .collect()
}

fn secs(s: f64) -> time::Duration {
    time::Duration::seconds_f64(s)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_unresolved_for_an_hour_escalates_once_at_the_hour() {
    let db = TestDb::create().await;
    let (app, chat) = app_on(&db, "ibt-loops-none").await;
    let t0 = OffsetDateTime::now_utc();
    let rb = app.runbooks.first();
    let opened = incidents::open(&app, rb, "web keeps growing", &by("alice"), t0)
        .await
        .unwrap();
    let thread = opened.thread.expect("a thread");
    let threads = chat.threads();
    assert_eq!(threads.len(), 1);
    assert_eq!(
        (threads[0].0, threads[0].3),
        (CHANNEL, thread),
        "in the incident channel"
    );
    assert!(threads[0].2.contains("web keeps growing"), "{threads:?}");

    let before = escalation::tick(&app, t0 + secs(3599.0)).await.unwrap();
    assert_eq!(
        before.delivered, 0,
        "nothing is due a second before the hour"
    );
    assert!(pings(&chat).is_empty());

    let at = escalation::tick(&app, t0 + secs(3600.5)).await.unwrap();
    assert_eq!(at.delivered, 1, "due at the hour");
    let sent = pings(&chat);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].1,
        vec![SENIOR],
        "exactly the Senior DevOps Engineer"
    );
    assert!(
        sent[0].0.contains("Senior DevOps Engineer"),
        "{}",
        sent[0].0
    );
    assert!(
        chat.posts_in(thread)
            .iter()
            .any(|m| m.mentions != Mentions::None),
        "the ping goes to the incident's thread"
    );

    let later = escalation::tick(&app, t0 + secs(7200.0)).await.unwrap();
    assert_eq!(later.delivered, 0, "an escalation fires once");
    assert_eq!(pings(&chat).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_updates_start_one_interval_after_the_incident_opened() {
    let db = TestDb::create().await;
    let (app, chat) = app_on(&db, "ibt-loops-none").await;
    let t0 = OffsetDateTime::now_utc();
    let opened = incidents::open(&app, app.runbooks.first(), "updates", &by("a"), t0)
        .await
        .unwrap();
    let thread = opened.thread.unwrap();
    let every = Duration::from_secs(300);
    let early = updates::tick(&app, t0 + secs(299.0), every).await.unwrap();
    assert_eq!(early, 0, "not before one interval");
    let due = updates::tick(&app, t0 + secs(300.0), every).await.unwrap();
    assert_eq!(due, 1);
    let last = chat.posts_in(thread).pop().unwrap();
    assert!(
        last.content
            .as_deref()
            .unwrap_or("")
            .starts_with("Memory update:"),
        "{last:?}"
    );
    assert_eq!(last.mentions, Mentions::None, "updates ping nobody");
}

/// The bot's own OomKiller alert for `container` of service `web`.
pub(crate) fn oom_event(id: &str, name: &str, at: OffsetDateTime) -> AlertEvent {
    AlertEvent {
        name: OOM_KILLER.into(),
        firing: true,
        fingerprint: AlertEvent::fingerprint_of(OOM_KILLER, Some("test"), "web", None),
        service: Some("web".into()),
        container: Some((id.into(), name.into())),
        summary: format!("{name} was OOM-killed"),
        source: AlertSource::Bot,
        at,
    }
}

pub(crate) fn container_id(name: &str) -> String {
    let out = docker(&["inspect", "--format", "{{.Id}}", name]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oom_kill_that_leaves_the_service_down_pings_the_lead_at_once() {
    let mut p = Project::new("loops-oom-down");
    let name = p.start("web", 8, None);
    let id = container_id(&name);
    let db = TestDb::create().await;
    let (app, chat) = app_on(&db, &p.name).await;
    // The kill: the container stops and, with no restart policy, stays
    // down.
    assert!(docker(&["kill", &name]).status.success());
    let t0 = OffsetDateTime::now_utc();
    let opened = alerts::handle(&app, oom_event(&id, &name, t0)).await;
    assert!(
        matches!(opened, alerts::Handled::Opened { joined: false, .. }),
        "{opened:?}"
    );
    let reports = chat.posts_in(CHANNEL).len();
    let report = chat.posts().last().map(|p| p.1).unwrap();
    // A second kill of a crash loop is counted on the one report (an
    // edit), not posted again.
    let again = alerts::handle(&app, oom_event(&id, &name, t0 + secs(0.2))).await;
    assert!(
        matches!(again, alerts::Handled::Counted { .. }),
        "{again:?}"
    );
    assert_eq!(chat.posts_in(CHANNEL).len(), reports, "no second report");
    assert!(
        chat.edits()
            .iter()
            .any(|(c, m, _)| (*c, *m) == (CHANNEL, report)),
        "the report is edited"
    );
    let t0 = t0 + secs(0.2);

    assert!(
        oom::tick(&app, t0 + secs(0.5)).await.is_empty(),
        "too soon to judge"
    );
    assert_eq!(oom::tick(&app, t0 + secs(1.0)).await, vec![name.clone()]);
    let delivered = escalation::tick(&app, t0 + secs(1.0)).await.unwrap();
    assert_eq!(delivered.delivered, 1);
    let sent = pings(&chat);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, vec![LEAD], "exactly the DevOps Lead");
    assert!(
        oom::tick(&app, t0 + secs(5.0)).await.is_empty(),
        "judged once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oom_kill_the_service_survives_pings_nobody() {
    let mut p = Project::new("loops-oom-up");
    let name = p.start("web", 8, None);
    let id = container_id(&name);
    let db = TestDb::create().await;
    let (app, chat) = app_on(&db, &p.name).await;
    let t0 = OffsetDateTime::now_utc();
    alerts::handle(&app, oom_event(&id, &name, t0)).await;
    let grace = app.settings.escalation.oom_grace_secs as f64;
    assert!(oom::tick(&app, t0 + secs(grace - 1.0)).await.is_empty());
    assert!(
        oom::tick(&app, t0 + secs(grace)).await.is_empty(),
        "it runs: up"
    );
    let delivered = escalation::tick(&app, t0 + secs(grace + 1.0))
        .await
        .unwrap();
    assert_eq!(delivered.delivered, 0);
    assert!(pings(&chat).is_empty(), "{:?}", pings(&chat));
}

/// Opened by hand by `who`, at the runbook's default severity.
fn by(who: &'static str) -> incidents::How<'static> {
    incidents::How {
        opened_by: who,
        announced_by: who,
        severity: None,
    }
}
