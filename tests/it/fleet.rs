//! A fleet end to end: three real Docker engines on this machine (the
//! default one and two `dockerd`s the test starts), one bot process per
//! engine, all on one database, and the Discord emulator. One report for
//! every host; `host:` narrows it; a stopped engine and a killed bot are
//! blind spots said in the channel; the gateway holder SIGKILLed, a
//! standby answers within 15 s.

use crate::discord::{Emulator, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The settings of node `node` of a fleet watching its engine at `host`.
fn node_env<'a>(node: &'a str, host: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("INCIDENT_BOT_FLEET__ENABLED", "true"),
        ("INCIDENT_BOT_FLEET__NODE", node),
        ("INCIDENT_BOT_FLEET__PUBLISH_MS", "500"),
        ("INCIDENT_BOT_FLEET__BLIND_AFTER_SECS", "5"),
        (
            "INCIDENT_BOT_THRESHOLDS__MEM__HIGHMEMORYUSAGE__FOR_SECS",
            "2",
        ),
        ("DOCKER_HOST", host),
    ]
}

/// The report's table (the embed's description).
fn table(reply: &Value) -> String {
    reply["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The line of `table` for `host`'s container `name`.
fn row<'a>(table: &'a str, host: &str, name: &str) -> Option<&'a str> {
    table
        .lines()
        .find(|l| l.starts_with(host) && l.contains(name))
}

/// Waits until every node of `names` has published data.
async fn wait_published(db: &TestDb, names: &[&str]) {
    let client = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = client
            .query(
                "SELECT name FROM nodes WHERE data_at IS NOT NULL AND name = ANY($1)",
                &[&names],
            )
            .await
            .unwrap();
        if rows.len() == names.len() {
            return;
        }
        assert!(Instant::now() < deadline, "not every node published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The messages the bot posted by itself in the incident channel that
/// contain `needle`.
fn posted(emu: &Emulator, needle: &str) -> Vec<String> {
    emu.all_messages_in(INCIDENT_CHANNEL_ID)
        .iter()
        .filter_map(|m| m["content"].as_str())
        .filter(|c| c.contains(needle))
        .map(String::from)
        .collect()
}

async fn wait_posted(emu: &Emulator, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = posted(emu, needle).into_iter().next() {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "never posted {needle:?}:\n{}",
            emu.dump()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hosts_one_report_blind_spots_said_and_a_standby_takes_over() {
    let mut project = Project::new("fleet");
    let web1 = project.start("web", 40, None);
    let e2 = ExtraEngine::start();
    let mut e3 = ExtraEngine::start();
    let web2 = e2.run(&project.name, "web", 60);
    let web3 = e3.run(&project.name, "web", 520);
    let default_host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let emu = Emulator::start().await;
    let db = TestDb::create().await;
    // n1 first: it takes the gateway lease and registers the commands.
    let mut b1 = Bot::start_on(&emu, &project.name, &node_env("n1", &default_host), &db.url).await;
    let b2 = Bot::spawn_on(&emu, &project.name, &node_env("n2", &e2.host), &db.url);
    let b3 = Bot::spawn_on(&emu, &project.name, &node_env("n3", &e3.host), &db.url);
    wait_published(&db, &["n1", "n2", "n3"]).await;

    // A standby is ready (to take over), and says what it is; /metrics
    // shows every node's role and lag.
    let base2 = b2.http_base().await;
    let (status, ready) = get(&format!("{base2}/readyz")).await;
    assert_eq!(status, 200, "{ready}");
    assert!(ready.contains("fleet: node n2 (standby)"), "{ready}");
    let (_, ready1) = get(&format!("{}/readyz", b1.http_base().await)).await;
    assert!(ready1.contains("fleet: node n1 (gateway)"), "{ready1}");
    let (_, metrics) = get(&format!("{base2}/metrics")).await;
    for (node, role) in [("n1", "gateway"), ("n2", "standby"), ("n3", "standby")] {
        let series =
            format!("incident_bot_fleet_node_lag_seconds{{node=\"{node}\",role=\"{role}\"}}");
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }

    // The 520 MiB container on n3 raises its node's alert, named with
    // its host (so n1's web, under the bar, resolves nothing of it).
    let client = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let summary = loop {
        let row = client
            .query_opt(
                "SELECT summary FROM alerts WHERE fingerprint LIKE 'HighMemoryUsage/%/web@n3'",
                &[],
            )
            .await
            .unwrap();
        if let Some(r) = row {
            break r.get::<_, String>(0);
        }
        assert!(Instant::now() < deadline, "n3's alert never fired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(summary.ends_with("(host n3)"), "{summary}");

    // One report: every host's container, each host's total judged on its
    // own, the 520 MiB container on n3 over the 500 MB bar.
    let reply = mem(&emu, "status", vec![]).await;
    let t = table(&reply);
    assert!(t.contains("HOST"), "{t}");
    assert!(row(&t, "n1", &web1).is_some(), "{t}");
    assert!(row(&t, "n2", &web2).is_some(), "{t}");
    assert!(
        row(&t, "n3", &web3).is_some_and(|l| l.contains("<< OVER")),
        "{t}"
    );
    for host in ["n1", "n2", "n3"] {
        assert!(
            t.lines()
                .any(|l| l.starts_with(host) && l.contains("TOTAL")),
            "{host}: {t}"
        );
    }
    assert!(
        reply.to_string().contains(&format!("n3 {web3}")),
        "{reply:#}"
    );
    // The terminal asks the fleet through the database.
    let out = bot(
        &["mem", "status", "--fleet", "--project", &project.name],
        &[("DATABASE_URL", &db.url)],
    );
    let text = stdout(&out);
    for (host, name) in [("n1", &web1), ("n2", &web2), ("n3", &web3)] {
        assert!(
            row(&text, host, name).is_some(),
            "{host}: {text}{}",
            stderr(&out)
        );
    }
    assert_eq!(
        out.status.code(),
        Some(2),
        "FAIL: n3's container is over the bar"
    );

    // The verification checklist judges every host's memory too.
    let verify = mem(&emu, "verify", vec![]).await.to_string();
    assert!(verify.contains("3 hosts"), "{verify}");

    // `host:` narrows it, and is offered from the fleet's nodes.
    let only = mem(&emu, "status", vec![("host".into(), json!("n2"))]).await;
    let t = table(&only);
    assert!(row(&t, "n2", &web2).is_some(), "{t}");
    // (Every host's container has the same name: the project is one.)
    assert!(
        !t.lines()
            .any(|l| l.starts_with("n1") || l.starts_with("n3")),
        "{t}"
    );
    let sent = emu
        .autocomplete(
            mem_slash("status", vec![("host".into(), json!("n"))]),
            "host",
        )
        .await;
    let r = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    let choices: Vec<&str> = r.json.as_ref().unwrap()["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(choices, ["n1", "n2", "n3"]);
    let unknown = mem(&emu, "status", vec![("host".into(), json!("n9"))]).await;
    assert!(
        unknown.to_string().contains("no host 'n9' in the fleet"),
        "{unknown:#}"
    );

    // n3's engine goes away: said once in the channel, and the report
    // shows n3 as blind while the other hosts are still answered.
    e3.stop_daemon();
    let said = wait_posted(&emu, "No data from host **n3**").await;
    assert!(said.contains("Docker engine does not answer"), "{said}");
    let reply = mem(&emu, "status", vec![]).await;
    let t = table(&reply);
    assert!(
        row(&t, "n1", &web1).is_some() && row(&t, "n2", &web2).is_some(),
        "{t}"
    );
    assert!(
        row(&t, "n3", "TOTAL").is_some_and(|l| l.contains("blind")),
        "{t}"
    );
    assert_eq!(posted(&emu, "No data from host **n3**").len(), 1);

    // Memory over time across hosts: every node records its history in
    // the one database, each container named with its host.
    let leaks = mem(&emu, "leaks", vec![("service".into(), json!("web"))]).await;
    let text = leaks.to_string();
    for (host, name) in [("n1", &web1), ("n2", &web2)] {
        assert!(
            text.contains(&format!("{host} {name}")),
            "{host}: {leaks:#}"
        );
    }

    // The gateway holder dies: a standby takes the lease and answers the
    // next command within 15 s.
    let sessions = emu.identify_count();
    let killed = Instant::now();
    b1.kill();
    let deadline = killed + Duration::from_secs(15);
    while emu.identify_count() == sessions {
        assert!(
            Instant::now() < deadline,
            "no standby took over within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = mem(&emu, "status", vec![]).await;
    let took = killed.elapsed();
    assert!(
        took <= Duration::from_secs(15),
        "answered {took:?} after the kill"
    );
    assert!(row(&table(&reply), "n2", &web2).is_some(), "{reply:#}");
    assert!(b2.logged("holding the gateway lease") || b3.logged("holding the gateway lease"));
    // n1's bot is silent now: a blind spot of its own.
    let said = wait_posted(&emu, "No data from host **n1**").await;
    assert!(said.contains("has not been heard from"), "{said}");
    eprintln!("failover: answered {took:?} after the kill");
    drop((b2, b3));
}

/// The bot's process id in an execution claim (`host:pid:start`).
fn claimed_by_pid(claimed_by: &str) -> u32 {
    claimed_by.split(':').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_approved_through_one_node_runs_once_on_the_host_of_the_container() {
    let mut project = Project::new("fleetjob");
    project.start("web", 30, None);
    let e2 = ExtraEngine::start();
    let web2 = e2.run(&project.name, "web", 30);
    let before = e2.docker(&["inspect", "--format", "{{.State.StartedAt}}", &web2]);
    let default_host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let emu = Emulator::start().await;
    let db = TestDb::create().await;
    let mut env1 = node_env("n1", &default_host);
    env1.push(("INCIDENT_BOT_FLEET__JOB_CLAIM_SECS", "3"));
    let b1 = Bot::start_on(&emu, &project.name, &env1, &db.url).await;
    let b2 = Bot::spawn_on(&emu, &project.name, &node_env("n2", &e2.host), &db.url);
    wait_published(&db, &["n1", "n2"]).await;

    // web runs on both hosts: the request must say which.
    let text = action_reply(
        &emu,
        "restart",
        vec![
            ("service".into(), json!("web")),
            ("reason".into(), json!("memory keeps growing")),
        ],
    )
    .await;
    assert!(
        text.contains("runs on n1, n2; say which with host:"),
        "{text}"
    );
    let (text, request) = request_action(
        &emu,
        "restart",
        vec![
            ("service".into(), json!("web")),
            ("host".into(), json!("n2")),
            ("reason".into(), json!("memory keeps growing")),
        ],
    )
    .await;
    assert!(text.contains("to restart web on n2"), "{text}");
    // Approved through the gateway node (n1); run by n2, whose engine
    // runs the container.
    let outcome = approve(&emu, &request).await;
    assert!(outcome.contains(&web2), "{outcome}");
    let after = e2.docker(&["inspect", "--format", "{{.State.StartedAt}}", &web2]);
    assert_ne!(before.stdout, after.stdout, "n2's container was restarted");
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT state, node, claimed_by FROM action_requests ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "executed");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("n2"));
    assert_eq!(claimed_by_pid(&row.get::<_, String>(2)), b2.pid());
    let starts: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'execute restart' AND result = 'starting'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(starts, 1, "run once");
    assert!(b1.logged("left to the node that owns the container"));

    // n2's bot dies right after the next request for its container: the
    // approved job waits for it (fleet.job_claim_secs), then fails unrun.
    let mut b2 = b2;
    let (text, request) = request_action(
        &emu,
        "restart",
        vec![
            ("service".into(), json!("web")),
            ("host".into(), json!("n2")),
            ("reason".into(), json!("again")),
        ],
    )
    .await;
    assert!(text.contains("to restart web on n2"), "{text}");
    b2.kill();
    let restarted = e2.docker(&["inspect", "--format", "{{.State.StartedAt}}", &web2]);
    let id: u64 = request["id"].as_str().unwrap().parse().unwrap();
    click(&emu, id, "approve", bob(), false).await;
    let failed = emu
        .wait_until(WAIT, "the job failed", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID).into_iter().find(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("did not pick it up in time")
            })
        })
        .await;
    assert!(
        failed["content"]
            .as_str()
            .unwrap()
            .contains("nothing was run"),
        "{failed:#}"
    );
    let after = e2.docker(&["inspect", "--format", "{{.State.StartedAt}}", &web2]);
    assert_eq!(restarted.stdout, after.stdout, "not restarted");
}
