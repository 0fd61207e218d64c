//! `/mem restart-workers`: after a second person approves, the worker's
//! container is recreated with the same configuration and the runbook's
//! limited-concurrency command (filled from typed values), and not before.
//! The test runbook's command is the test workload's own arguments.

use crate::harness::*;
use serde_json::{json, Value};

fn inspect(name: &str) -> Value {
    let out = docker(&["inspect", name]);
    serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone()
}

/// commands/ with the worker command replaced by memhog's arguments.
fn runbooks_with_test_worker_command() -> std::path::PathBuf {
    let src = include_str!("../../commands/mem.toml");
    let celery = r#"command = ["celery", "-A", "rota", "worker", "--concurrency={concurrency}", "--max-tasks-per-child={max_tasks_per_child}"]"#;
    assert!(src.contains(celery));
    let edited = src.replace(
        celery,
        r#"command = ["--mb", "{concurrency}", "--max-mb", "{max_tasks_per_child}"]"#,
    );
    let dir = std::env::temp_dir().join(format!("ib-runbooks-workers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mem.toml"), edited).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_is_recreated_with_the_new_command_after_approval_only() {
    let dir = runbooks_with_test_worker_command();
    let TestApp {
        project: p,
        emu,
        bot: _bot,
    } = spawn_app(
        "workers",
        &[("celery_worker", 8, Some(64))],
        &[("INCIDENT_BOT_RUNBOOKS__DIR", dir.to_str().unwrap())],
    )
    .await;
    let worker = p.container("celery_worker");
    let before = inspect(&worker);

    let (text, request) = request_action(
        &emu,
        "restart-workers",
        vec![
            ("concurrency".into(), json!(3)),
            ("reason".into(), json!("worker holds memory")),
        ],
    )
    .await;
    assert!(
        text.contains("to recreate celery_worker with `--mb 3 --max-mb 100`"),
        "{text}"
    );
    assert!(request["embeds"][0]
        .to_string()
        .contains("new command: --mb 3 --max-mb 100"));
    // Nothing changes on one person's word.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(inspect(&worker)["Id"], before["Id"]);

    let outcome = approve(&emu, &request).await;
    assert!(
        outcome.contains(&format!("{worker} recreated as {worker}")),
        "{outcome}"
    );
    assert!(
        outcome.contains("running `--mb 3 --max-mb 100`"),
        "{outcome}"
    );
    let after = inspect(&worker);
    assert_ne!(after["Id"], before["Id"], "a new container");
    assert_eq!(
        after["Config"]["Cmd"],
        json!(["--mb", "3", "--max-mb", "100"])
    );
    assert_eq!(after["State"]["Running"], true);
    // The same configuration otherwise: image, limit, Compose labels.
    assert_eq!(after["Config"]["Image"], before["Config"]["Image"]);
    assert_eq!(after["HostConfig"]["Memory"], 64 * 1024 * 1024);
    assert_eq!(after["Config"]["Labels"], before["Config"]["Labels"]);
    // The old one is gone.
    let old = docker(&["inspect", before["Id"].as_str().unwrap()]);
    assert!(!old.status.success());
    let _ = std::fs::remove_dir_all(dir);
}
