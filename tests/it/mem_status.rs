//! `incident-bot mem status` against the real engine: numbers agree with
//! `docker stats`, verdicts name exactly the offenders, exit codes follow the
//! monitoring convention.

use crate::harness::*;
use incident_bot::config::{Scope, Settings};
use incident_bot::core::memory::Reading;
use incident_bot::docker::Engine;
use incident_bot::watch::sampler::Sampler;
use serde_json::Value;

fn status_json(args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let mut all = vec!["mem", "status", "--json"];
    all.extend(args);
    let out = bot(&all, env);
    let json = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: stdout {:?} stderr {:?}", stdout(&out), stderr(&out)));
    (out.status.code().expect("exited"), json)
}

fn row<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row for {name} in {report:#}"))
}

#[test]
fn report_agrees_with_docker_stats_and_names_exactly_the_offenders() {
    let mut p = Project::new("offenders");
    let web = p.start("web", 520, None);
    let worker = p.start("celery_worker", 40, Some(256));
    let beat = p.start("beat", 16, None);

    let (code, report) = status_json(&["--project", &p.name], &[]);
    let oracle = docker_stats(&[&web, &worker, &beat]);

    assert_eq!(code, 2, "CRITICAL: {report:#}");
    assert_eq!(report["rows"].as_array().unwrap().len(), 3);
    for name in [&web, &worker, &beat] {
        let ours = row(&report, name)["usage_bytes"].as_f64().unwrap();
        let theirs = oracle[name.as_str()];
        // docker stats prints four significant digits; the workload is
        // static, so the two reads agree within that rounding.
        let tolerance = (theirs * 0.01).max(MIB as f64);
        assert!(
            (ours - theirs).abs() <= tolerance,
            "{name}: ours {ours} vs docker stats {theirs}"
        );
    }
    assert_eq!(row(&report, &web)["service"], "web");
    assert_eq!(row(&report, &web)["limit_bytes"], Value::Null, "no limit");
    assert_eq!(row(&report, &worker)["limit_bytes"], 256 * MIB);

    let verdict = &report["verdict"];
    assert_eq!(verdict["outcome"], "fail");
    assert_eq!(
        verdict["conclusion"],
        "Memory leak or excessive memory usage"
    );
    assert_eq!(
        verdict["expected"],
        "Total memory < 80%, individual processes < 500MB"
    );
    let offenders: Vec<&str> = verdict["offenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(offenders, [web.as_str()]);

    // The same facts for people.
    let out = bot(&["mem", "status", "--project", &p.name], &[]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    let web_line = text.lines().find(|l| l.starts_with(&web)).unwrap();
    assert!(
        web_line.contains("no limit") && web_line.contains("OVER"),
        "{text}"
    );
    let worker_line = text.lines().find(|l| l.starts_with(&worker)).unwrap();
    assert!(
        worker_line.contains("256MiB") && !worker_line.contains("OVER"),
        "{text}"
    );
    assert!(
        text.contains("Verdict:  FAIL: Memory leak or excessive memory usage"),
        "{text}"
    );
}

#[test]
fn a_healthy_project_passes_with_exit_0() {
    let mut p = Project::new("healthy");
    p.start("web", 24, None);
    p.start("celery_worker", 24, Some(512));
    let (code, report) = status_json(&["--project", &p.name], &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verdict"]["outcome"], "pass");
    assert_eq!(report["verdict"]["offenders"], Value::Array(vec![]));
    assert_eq!(report["verdict"]["conclusion"], Value::Null);
}

#[test]
fn a_container_near_its_own_limit_warns_with_exit_1() {
    let mut p = Project::new("nearlimit");
    let worker = p.start("celery_worker", 236, Some(256));
    let (code, report) = status_json(&["--project", &p.name], &[]);
    assert_eq!(code, 1, "{report:#}");
    let offender = &report["verdict"]["offenders"][0];
    assert_eq!(offender["name"], worker.as_str());
    assert!(offender["reason"]
        .as_str()
        .unwrap()
        .contains("of its own limit"));
}

#[test]
fn thresholds_can_be_overridden_from_the_environment() {
    let mut p = Project::new("override");
    p.start("web", 520, None);
    let env = [(
        "INCIDENT_BOT_THRESHOLDS__MEM__STATUS__PROCESS_MAX_MIB",
        "2000",
    )];
    let (code, report) = status_json(&["--project", &p.name], &env);
    assert_eq!(code, 0, "520 MiB is fine under a 2000 MiB bar: {report:#}");
    // And the watched project can come from the environment too.
    let env = [("INCIDENT_BOT_WATCH__PROJECT", p.name.as_str())];
    let (code, _) = status_json(&[], &env);
    assert_eq!(code, 2);
}

#[test]
fn all_covers_containers_of_every_project() {
    let mut a = Project::new("all-a");
    let mut b = Project::new("all-b");
    let one = a.start("web", 8, None);
    let two = b.start("web", 8, None);
    let (_, report) = status_json(&["--all"], &[]);
    assert_eq!(report["scope"]["all"], true);
    row(&report, &one);
    row(&report, &two);
}

#[test]
fn a_project_without_containers_lists_the_running_ones() {
    let mut p = Project::new("present");
    p.start("web", 8, None);
    let missing = format!("{}-absent", p.name);
    let out = bot(&["mem", "status", "--project", &missing], &[]);
    assert_eq!(out.status.code(), Some(3), "UNKNOWN");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "no running containers in Compose project '{missing}'"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{} (1)", p.name)),
        "lists running projects: {err}"
    );
    // Scripts still get JSON on stdout.
    let (code, json) = status_json(&["--project", &missing], &[]);
    assert_eq!(code, 3);
    assert_eq!(json["outcome"], "unknown");
    assert!(json["error"]
        .as_str()
        .unwrap()
        .contains("no running containers"));
}

/// Containers that stop or are removed between the listing and their
/// reading are reported as gone, whether read from the cgroup files or
/// through the stats API; the rest of the read still succeeds.
#[test]
fn containers_vanishing_mid_way_are_reported_not_fatal() {
    let mut p = Project::new("vanish");
    let kept = p.start("kept", 8, None);
    let removed = p.start("removed", 8, None);
    let stopped = p.start("stopped", 8, None);
    let settings = Settings::load(None).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let reads = runtime.block_on(async {
        let engine = Engine::from_settings(&settings).expect("engine");
        let listed = engine
            .list(&Scope::Project(p.name.clone()))
            .await
            .expect("list");
        assert_eq!(listed.len(), 3);
        p.remove(&removed);
        let out = docker(&["kill", &stopped]);
        assert!(out.status.success());
        // Stopped, not just signalled.
        docker(&["wait", &stopped]);
        let host = engine.host().await.unwrap();
        let mut reads = Vec::new();
        for root in [settings.cgroup_root(), None] {
            let sampler = Sampler::new(engine.clone(), root, 8);
            let _ = sampler.attach(host.cgroup_driver);
            reads.push(sampler.read(listed.clone(), host.memory_bytes).await);
        }
        reads
    });
    let [(kernel, by_kernel), (api, by_api)] = <[_; 2]>::try_from(reads).unwrap();
    // The kept container from its files; the others have none left, so
    // the stats API is asked about them, and says they are gone.
    assert_eq!((by_kernel.kernel, by_kernel.api), (1, 2), "{by_kernel:?}");
    assert_eq!(by_api.api, 3);
    for rows in [kernel, api] {
        let reading = |name: &str| {
            &rows
                .iter()
                .find(|(c, _)| c.name == name)
                .unwrap_or_else(|| panic!("{name} has a row: {rows:#?}"))
                .1
        };
        assert!(
            matches!(reading(&kept), Reading::Sampled { .. }),
            "{rows:#?}"
        );
        assert_eq!(reading(&removed), &Reading::Gone);
        assert_eq!(reading(&stopped), &Reading::Gone);
    }
}
