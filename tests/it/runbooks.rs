//! Runbook files: everything in commands/ loads, and `runbook check`
//! reports every problem with its file and line.

use crate::harness::*;
use std::path::PathBuf;

#[test]
fn every_runbook_in_commands_loads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("commands");
    let loaded = incident_bot::runbooks::load_dir(&dir).unwrap_or_else(|p| panic!("{p:#?}"));
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "toml")
        })
        .count();
    assert_eq!(loaded.len(), files, "every file in commands/ is a runbook");

    let out = bot(&["runbook", "check"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("mem.toml: ok (mem: 4 steps"),
        "{}",
        stdout(&out)
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ib-runbooks-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn runbook_check_reports_every_problem_with_file_and_line() {
    let dir = temp_dir("bad");
    let good =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/commands/mem.toml")).unwrap();
    // a.toml: two validation problems in one file.
    let a = good
        .replacen("process_max_mib = 500\n", "process_max_mib = 0\n", 1)
        .replace("target = \"devops_lead\"", "target = \"nobody\"");
    std::fs::write(dir.join("a.toml"), a).unwrap();
    // b.toml: a schema error (an unknown check kind).
    let b = good.replace("kind = \"memory_trend\"\n", "kind = \"crystal_ball\"\n");
    std::fs::write(dir.join("b.toml"), b).unwrap();
    // c.toml is valid; d.toml is too, but claims the same command group.
    std::fs::write(dir.join("c.toml"), &good).unwrap();
    std::fs::write(dir.join("d.toml"), &good).unwrap();

    let out = bot(&["runbook", "check", dir.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let a_path = dir.join("a.toml").display().to_string();
    let b_path = dir.join("b.toml").display().to_string();
    let d_path = dir.join("d.toml").display().to_string();
    let has = |prefix: &str, text: &str| {
        lines.iter().any(|l| {
            l.starts_with(prefix)
                && l.contains(text)
                && l.split(':').nth(1).unwrap().parse::<usize>().unwrap() > 1
        })
    };
    assert!(
        has(&a_path, "process_max_mib must be a number greater than 0"),
        "{err}"
    );
    assert!(
        has(&a_path, "target 'nobody' is not a [[roster_roles]] id"),
        "{err}"
    );
    assert!(has(&b_path, "unknown variant `crystal_ball`"), "{err}");
    assert!(
        lines.iter().any(|l| l.starts_with(&d_path)
            && l.contains("'mem' is already used by")
            && l.contains("c.toml")),
        "{err}"
    );
    assert!(err.trim_end().ends_with("4 problems found"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_invalid_runbook_stops_diagnosis_before_it_touches_docker() {
    let dir = temp_dir("broken");
    std::fs::write(dir.join("mem.toml"), "[runbook]\nid = \"mem\"\n").unwrap();
    let out = bot(
        &["mem", "status"],
        &[
            ("INCIDENT_BOT_RUNBOOKS__DIR", dir.to_str().unwrap()),
            // Were Docker contacted, this would fail differently.
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("mem.toml:"), "{err}");
    assert!(err.contains("the runbooks are invalid"), "{err}");
    assert!(!err.contains("docker.sock"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
