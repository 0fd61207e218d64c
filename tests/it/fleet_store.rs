//! The fleet's coordination in a real PostgreSQL, raced: the gateway lease
//! with its fencing token, the one claim per interaction, publishing and
//! reading nodes' samples, blind spots said once. Races are repeated many
//! times with separate connection pools, as separate nodes would have.

use crate::harness::*;
use incident_bot::core::memory::{ContainerSample, Reading};
use incident_bot::store::{Beat, Store};
use std::time::Duration;

/// `n` stores on one database, each its own pool, like `n` nodes.
async fn nodes(db: &TestDb, n: usize) -> Vec<Store> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(db.store().await);
    }
    out
}

fn sample(name: &str, mib: u64, age_ms: u64) -> ContainerSample {
    ContainerSample {
        name: name.into(),
        id: format!("{name}-id"),
        service: Some(name.into()),
        project: Some("shop".into()),
        reading: Reading::Sampled {
            usage_bytes: mib << 20,
            limit_bytes: Some(1 << 30),
        },
        age_ms: Some(age_ms),
    }
}

fn beat<'a>(node: &'a str, instance: &'a str, engine_error: Option<&'a str>) -> Beat<'a> {
    Beat {
        node,
        instance,
        host_memory_bytes: 8 << 30,
        via: "kernel",
        engine_error,
        role: "standby",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_holder_of_the_lease_at_a_time_and_the_token_fences_the_rest() {
    let db = TestDb::create().await;
    let stores = nodes(&db, 3).await;
    let ttl = Duration::from_secs(30);
    for round in 0..40 {
        // Three nodes race for a free lease: exactly one wins.
        let names = ["a", "b", "c"].map(|n| format!("{n}-{round}"));
        let takes = futures_util::future::join_all(
            stores
                .iter()
                .zip(&names)
                .map(|(s, n)| s.take_lease("gateway", n, n, ttl)),
        )
        .await;
        let won: Vec<_> = takes
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().unwrap().map(|l| (i, l)))
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {takes:?}");
        let (winner, lease) = won[0];
        // The losers' interaction claims under any token fail; the
        // winner's succeed once per interaction.
        let id = 1000 + round as u64;
        for (i, s) in stores.iter().enumerate() {
            let got = s
                .claim_interaction(id, &names[i], Some(lease.token))
                .await
                .unwrap();
            assert_eq!(got, i == winner, "round {round}, node {i}");
        }
        assert!(!stores[winner]
            .claim_interaction(id, &names[winner], Some(lease.token))
            .await
            .unwrap());
        // Renewing keeps the token; giving it up frees it for the next round.
        let again = stores[winner]
            .take_lease("gateway", &names[winner], &names[winner], ttl)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.token, lease.token);
        assert!(stores[winner]
            .release_lease("gateway", &names[winner], &names[winner])
            .await
            .unwrap());
        // A stale holder's token no longer claims anything.
        assert!(!stores[winner]
            .claim_interaction(id + 10_000, &names[winner], Some(lease.token))
            .await
            .unwrap());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lapsed_lease_goes_to_another_node_with_a_higher_token() {
    let db = TestDb::create().await;
    let [a, b] = <[Store; 2]>::try_from(nodes(&db, 2).await).ok().unwrap();
    let first = a
        .take_lease("gateway", "a", "a:1", Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        b.take_lease("gateway", "b", "b:1", Duration::from_secs(5))
            .await
            .unwrap(),
        None
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = b
        .take_lease("gateway", "b", "b:1", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the lapsed lease is free");
    assert!(second.token > first.token);
    let holder = a.lease_holder("gateway").await.unwrap();
    assert_eq!(holder.node.as_deref(), Some("b"));
    // The same node restarted (another process) does not inherit it.
    assert_eq!(
        b.take_lease("gateway", "b", "b:2", Duration::from_secs(5))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_interactions_are_claimed_once_among_racing_nodes() {
    let db = TestDb::create().await;
    let stores = nodes(&db, 3).await;
    for id in 0..60u64 {
        let claims =
            futures_util::future::join_all(stores.iter().enumerate().map(|(i, s)| async move {
                s.claim_interaction(id, &format!("n{i}"), None).await
            }))
            .await;
        let won = claims.iter().filter(|c| *c.as_ref().unwrap()).count();
        assert_eq!(won, 1, "interaction {id}: {claims:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn published_samples_come_back_with_ages_on_the_databases_clock() {
    let db = TestDb::create().await;
    let [a, b] = <[Store; 2]>::try_from(nodes(&db, 2).await).ok().unwrap();
    let fresh = Duration::from_secs(3);
    a.publish(
        &beat("web-1", "a:1", None),
        &[sample("web", 100, 500), sample("db", 50, 0)],
        fresh,
    )
    .await
    .unwrap();
    b.publish(
        &beat("web-2", "b:1", None),
        &[sample("web", 300, 1500)],
        fresh,
    )
    .await
    .unwrap();
    // Publishing again replaces: db is gone from web-1.
    a.publish(
        &beat("web-1", "a:1", None),
        &[sample("web", 120, 200)],
        fresh,
    )
    .await
    .unwrap();
    let fleet = b.fleet().await.unwrap();
    let names: Vec<&str> = fleet.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["web-1", "web-2"]);
    assert_eq!(fleet[0].containers.len(), 1);
    let web = &fleet[0].containers[0];
    assert_eq!(
        web.reading,
        Reading::Sampled {
            usage_bytes: 120 << 20,
            limit_bytes: Some(1 << 30)
        }
    );
    let age = web.age_ms.unwrap();
    assert!((200..2000).contains(&age), "{age} ms");
    assert_eq!(fleet[1].host_memory_bytes, 8 << 30);
    assert!(fleet[1].containers[0].age_ms.unwrap() >= 1500);
    assert!(fleet[0].silent_secs < 2.0 && fleet[0].stale_secs.unwrap() < 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blind_node_is_said_once_and_its_return_once() {
    let db = TestDb::create().await;
    let stores = nodes(&db, 3).await;
    let fresh = Duration::from_secs(3);
    stores[0]
        .publish(&beat("web-2", "w:1", None), &[sample("web", 1, 0)], fresh)
        .await
        .unwrap();
    // Its engine goes away: it still publishes, without fresh data.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stores[0]
        .publish(
            &beat("web-2", "w:1", Some("connection refused")),
            &[],
            fresh,
        )
        .await
        .unwrap();
    let after = Duration::from_millis(200);
    let claims = futures_util::future::join_all(stores.iter().map(|s| s.claim_blind(after))).await;
    let said: Vec<_> = claims.into_iter().flat_map(|c| c.unwrap()).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert_eq!(said[0].node, "web-2");
    assert!(said[0].bot_alive);
    assert_eq!(said[0].engine_error.as_deref(), Some("connection refused"));
    // Said once: no other claim for it while it stays blind.
    assert!(stores[1].claim_blind(after).await.unwrap().is_empty());
    // Still blind while its engine is away; back once it is followed again.
    let p = stores[0]
        .publish(&beat("web-2", "w:1", Some("still refused")), &[], fresh)
        .await
        .unwrap();
    assert_eq!(p.back_from, None);
    let p = stores[0]
        .publish(&beat("web-2", "w:1", None), &[sample("web", 1, 0)], fresh)
        .await
        .unwrap();
    assert_eq!(p.back_from, Some(said[0].since));
    let p = stores[0]
        .publish(&beat("web-2", "w:1", None), &[sample("web", 1, 0)], fresh)
        .await
        .unwrap();
    assert_eq!(p.back_from, None, "its return is said once");
    // Another process publishing under the same name is noticed.
    let p = stores[1]
        .publish(&beat("web-2", "other:1", None), &[], fresh)
        .await
        .unwrap();
    assert_eq!(p.clash.as_deref(), Some("w:1"));
}

/// An approved request bound to `node`, not claimed by anyone, waiting
/// for its node until `wait_ms` from now (negative: past).
async fn approved_job(store: &Store, db: &TestDb, node: &str, service: &str, wait_ms: i64) -> i64 {
    let now = time::OffsetDateTime::now_utc();
    let req = store
        .create_request(&incident_bot::store::NewRequest {
            runbook: "mem".into(),
            action: "restart".into(),
            service: service.into(),
            container_id: format!("{service}-id"),
            container_name: format!("shop-{service}-1"),
            target_summary: String::new(),
            reason: "race".into(),
            requested_by: 1,
            requested_by_label: "alice".into(),
            requested_at: now,
            expires_at: now + time::Duration::minutes(10),
            approvals_needed: 1,
            incident_id: None,
            title: format!("restart {service} on {node}"),
            params: serde_json::json!({}),
            node: Some(node.into()),
        })
        .await
        .unwrap();
    db.client()
        .await
        .execute(
            "UPDATE action_requests SET state = 'approved',
                 lease_until = now() + $2 * interval '1 millisecond'
             WHERE id = $1",
            &[&req.rule.id, &(wait_ms as f64)],
        )
        .await
        .unwrap();
    req.rule.id
}

/// A job is claimed by exactly one process of its node, and never by
/// another node; one its node did not claim in time is failed exactly
/// once and then claimed by nobody.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_run_once_by_its_node_or_failed_once_unrun() {
    let db = TestDb::create().await;
    let stores = nodes(&db, 4).await;
    let lease = time::Duration::seconds(30);
    for round in 0..30 {
        let service = format!("svc{round}");
        let waiting = round % 2 == 0;
        let id = approved_job(
            &stores[0],
            &db,
            "a",
            &service,
            if waiting { 60_000 } else { -1 },
        )
        .await;
        let (c1, c2, other, f1, f2) = tokio::join!(
            stores[0].claim_jobs("a", "a-1", lease),
            stores[1].claim_jobs("a", "a-2", lease),
            stores[2].claim_jobs("b", "b-1", lease),
            stores[2].fail_unclaimed_jobs(),
            stores[3].fail_unclaimed_jobs(),
        );
        let claimed: usize = [c1.unwrap(), c2.unwrap()]
            .iter()
            .map(|v| v.iter().filter(|r| r.rule.id == id).count())
            .sum();
        let failed: usize = [f1.unwrap(), f2.unwrap()]
            .iter()
            .map(|v| v.iter().filter(|r| r.rule.id == id).count())
            .sum();
        assert!(other.unwrap().is_empty(), "another node claimed a's job");
        if waiting {
            assert_eq!((claimed, failed), (1, 0), "round {round}");
        } else {
            assert_eq!((claimed, failed), (0, 1), "round {round}");
            let state: String = db
                .client()
                .await
                .query_one("SELECT state FROM action_requests WHERE id = $1", &[&id])
                .await
                .unwrap()
                .get(0);
            assert_eq!(state, "failed");
        }
        // A claimed job is its node's: no other node reconciles it.
        let stale = stores[2]
            .take_stale_claims("b-1", lease, Some("b"))
            .await
            .unwrap();
        assert!(stale.iter().all(|r| r.rule.id != id));
    }
}

/// The other hosts' OOM kills, for the verification checklist: the
/// OomKiller alerts nodes raised since then, named with their host.
#[tokio::test(flavor = "multi_thread")]
async fn the_fleets_oom_kills_come_back_with_their_hosts() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let now = time::OffsetDateTime::now_utc();
    for (fingerprint, at) in [
        ("OomKiller/shop/web@n2", now),
        ("OomKiller/shop/worker@n3", now - time::Duration::hours(2)),
        ("OomKiller/shop/web", now),
        ("HighMemoryUsage/shop/web@n2", now),
    ] {
        let name = fingerprint.split('/').next().unwrap();
        store
            .fire_alert(
                &incident_bot::store::NewAlert {
                    fingerprint: fingerprint.into(),
                    name: name.into(),
                    service: Some("web".into()),
                    source: "bot".into(),
                    summary: "test".into(),
                    at,
                },
                false,
                time::Duration::ZERO,
            )
            .await
            .unwrap();
    }
    let kills = store
        .fleet_ooms_since(now - time::Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(kills, [("n2".to_string(), "web".to_string())]);
}

/// A host taken out of the fleet is forgotten from the terminal, unless
/// its bot is still heard from; audited either way.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_node_can_be_forgotten_a_live_one_cannot() {
    let db = TestDb::create().await;
    let store = db.store().await;
    store
        .publish(
            &beat("gone-1", "gone-1:1:1", None),
            &[sample("web", 10, 0)],
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let live = bot(&["forget-node", "gone-1"], &env);
    assert_eq!(live.status.code(), Some(1));
    assert!(stderr(&live).contains("still runs"), "{}", stderr(&live));
    // Silent for longer than fleet.blind_after_secs (1 s here).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("INCIDENT_BOT_FLEET__BLIND_AFTER_SECS", "1"),
    ];
    let gone = bot(&["forget-node", "gone-1"], &env);
    assert!(gone.status.success(), "{}", stderr(&gone));
    assert!(store.fleet().await.unwrap().is_empty());
    let unknown = bot(&["forget-node", "gone-1"], &env);
    assert!(
        stderr(&unknown).contains("no node gone-1"),
        "{}",
        stderr(&unknown)
    );
    let bad = bot(&["forget-node", "gone 1; rm"], &env);
    assert_eq!(bad.status.code(), Some(1));
    let audited: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'forget node'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 3, "refused, forgotten, unknown");
}
