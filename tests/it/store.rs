//! The store against a real PostgreSQL: migrations, the incident lifecycle
//! with versioned writes, concurrency, and the append-only audit log.

use crate::harness::*;
use incident_bot::core::escalation::Due;
use incident_bot::core::incident::{decide, Request, State};
use incident_bot::store::{AuditEntry, NewIncident, Store};
use time::{Duration, OffsetDateTime};

fn new_incident(title: &str) -> NewIncident {
    NewIncident {
        runbook: "mem".into(),
        title: title.into(),
        severity: "critical".into(),
        estimated_ttr_minutes: 30,
        opened_by: "<@1>".into(),
        opened_at: OffsetDateTime::now_utc(),
        channel_id: 10,
        escalations: vec![Due {
            rule: "unresolved".into(),
            target: "senior_devops_engineer".into(),
            due_at: OffsetDateTime::now_utc() + Duration::hours(1),
            text: "If unresolved after 1 hour, escalate".into(),
        }],
    }
}

#[tokio::test]
async fn migrations_apply_once() {
    let db = TestDb::create().await;
    let store = db.store().await; // applies them
    assert_eq!(
        store.migrate().await.unwrap(),
        Vec::<String>::new(),
        "nothing left to apply"
    );
    let n: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 11);
}

#[tokio::test]
async fn the_lifecycle_is_enforced_with_versions() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let inc = store.open_incident(&new_incident("web OOM")).await.unwrap();
    assert_eq!((inc.state, inc.version), (State::Open, 1));

    let now = inc.opened_at + Duration::minutes(3);
    let ack = decide(&inc, &Request::Acknowledge { by: "<@2>".into() }, now).unwrap();
    let acked = store
        .apply_change(inc.id, inc.version, &ack)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((acked.state, acked.version), (State::Acknowledged, 2));
    assert_eq!(acked.acknowledged_by.as_deref(), Some("<@2>"));

    // A write decided on stale data does nothing.
    let stale = decide(&inc, &Request::Acknowledge { by: "<@3>".into() }, now).unwrap();
    assert!(store
        .apply_change(inc.id, inc.version, &stale)
        .await
        .unwrap()
        .is_none());

    let resolve = Request::Resolve {
        by: "<@2>".into(),
        summary: "restarted web".into(),
    };
    let done = decide(&acked, &resolve, now + Duration::minutes(20)).unwrap();
    let resolved = store
        .apply_change(acked.id, acked.version, &done)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resolved.state, State::Resolved);
    assert_eq!(resolved.resolution.as_deref(), Some("restarted web"));
    // A late acknowledgement cannot reopen it.
    let late = decide(&resolved, &Request::Acknowledge { by: "<@4>".into() }, now);
    assert!(late.unwrap_err().contains("already resolved"));

    let kinds: Vec<String> = store
        .timeline(inc.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["opened", "acknowledged", "resolved"]);
    assert_eq!(store.unresolved_incidents().await.unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_resolves_produce_exactly_one_resolution() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let inc = store.open_incident(&new_incident("race")).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, inc): (Store, _) = (store.clone(), inc.clone());
            tokio::spawn(async move {
                let req = Request::Resolve {
                    by: format!("<@{i}>"),
                    summary: format!("fix {i}"),
                };
                let change = decide(&inc, &req, OffsetDateTime::now_utc()).unwrap();
                store
                    .apply_change(inc.id, inc.version, &change)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
    let resolved = store
        .timeline(inc.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "resolved")
        .count();
    assert_eq!(resolved, 1);
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let t0 = OffsetDateTime::now_utc() - Duration::hours(2);
    for (i, action) in ["/mem status", "/incident open"].into_iter().enumerate() {
        store
            .audit(&AuditEntry {
                at: t0 + Duration::hours(i as i64),
                actor: "<@1>".into(),
                action: action.into(),
                target: None,
                result: "ok".into(),
                detail: None,
            })
            .await
            .unwrap();
    }
    let recent = store.audit_since(t0 + Duration::minutes(30)).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].action, "/incident open");

    let client = db.client().await;
    for sql in [
        "UPDATE audit_log SET result = 'forged'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = client.batch_execute(sql).await.unwrap_err();
        assert!(
            err.as_db_error().unwrap().message().contains("append-only"),
            "{sql}: {err}"
        );
    }
    assert_eq!(store.audit_since(t0).await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreachable_database_is_one_sentence_within_seconds() {
    let store = Store::new(&incident_bot::config::Secret::new(
        "postgres://bot:hunter2@127.0.0.1:9/incidents".into(),
    ))
    .unwrap();
    let err = store.migrate().await.unwrap_err().to_string();
    assert!(
        err.starts_with("the database at 127.0.0.1:9/incidents is unreachable"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the password never appears: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn due_escalations_are_claimed_once_and_resolving_cancels_the_rest() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let a = store.open_incident(&new_incident("a")).await.unwrap();
    let b = store.open_incident(&new_incident("b")).await.unwrap();
    let now = OffsetDateTime::now_utc();
    // Not due yet: nothing to claim.
    assert!(store.claim_due_escalations(now).await.unwrap().is_empty());

    // An hour passes (the clock is an argument).
    let later = now + Duration::hours(2);
    let mut claimed = claimed_by_six_at_once(&store, later).await;
    claimed.sort();
    assert_eq!(
        claimed,
        [a.id, b.id],
        "each escalation is claimed by one claimer"
    );
    an_undelivered_ping_is_retried_later(&db, &store, a.id, later).await;

    // A bot that died mid-delivery: after the lease another takes it over,
    // and once confirmed it is never claimed again. (b's claim from above
    // was never confirmed either, so it comes back with it.)
    let after_lease = later + Duration::seconds(31 + 121);
    let taken_over = store.claim_due_escalations(after_lease).await.unwrap();
    assert_eq!(taken_over.len(), 2);
    for e in &taken_over {
        store.mark_delivered(e.id).await.unwrap();
    }
    assert!(store
        .claim_due_escalations(after_lease + Duration::hours(1))
        .await
        .unwrap()
        .is_empty());

    // A rule escalates an incident once, however often it is scheduled.
    let again = new_incident("x").escalations;
    assert_eq!(
        store
            .schedule_escalations(a.id, &again, None)
            .await
            .unwrap(),
        0
    );

    // Resolving cancels what is still pending.
    let c = store.open_incident(&new_incident("c")).await.unwrap();
    let fix = Request::Resolve {
        by: "<@1>".into(),
        summary: "fixed".into(),
    };
    let change = decide(&c, &fix, now).unwrap();
    store
        .apply_change(c.id, c.version, &change)
        .await
        .unwrap()
        .unwrap();
    assert!(store.claim_due_escalations(later).await.unwrap().is_empty());
}

/// The incidents whose escalations six concurrent claimers got at `at`.
async fn claimed_by_six_at_once(store: &Store, at: OffsetDateTime) -> Vec<i64> {
    let claims: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_due_escalations(at).await.unwrap() })
        })
        .collect();
    let mut claimed = Vec::new();
    for c in claims {
        claimed.extend(c.await.unwrap().into_iter().map(|e| e.incident_id));
    }
    claimed
}

/// Incident `a`'s escalation, claimed at `later` but not delivered: the
/// undelivered ping goes back, to be tried again later, not at once, and
/// keeps its due time.
async fn an_undelivered_ping_is_retried_later(
    db: &TestDb,
    store: &Store,
    a: i64,
    later: OffsetDateTime,
) {
    let first = store.claim_due_escalations(later).await.unwrap();
    assert!(first.is_empty(), "both are being delivered");
    let fired: i64 = db
        .client()
        .await
        .query_one("SELECT id FROM escalations WHERE incident_id = $1", &[&a])
        .await
        .unwrap()
        .get(0);
    store
        .release_escalation(fired, later + Duration::seconds(30))
        .await
        .unwrap();
    assert!(store.claim_due_escalations(later).await.unwrap().is_empty());
    let retried = store
        .claim_due_escalations(later + Duration::seconds(31))
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert!(retried[0].due_at < later, "the due time is kept");
}
