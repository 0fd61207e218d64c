//! Bad input and faults: an unreachable, hung or unsupported engine, usage
//! errors and bad configuration each give one clear sentence and exit
//! UNKNOWN (3), within seconds.

use crate::harness::*;
fn unknown_with(args: &[&str], env: &[(&str, &str)], needle: &str) {
    let out = bot(args, env);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "exit UNKNOWN; stderr: {err}");
    assert!(
        err.contains(needle),
        "stderr should contain {needle:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_missing_socket_names_the_endpoint() {
    unknown_with(
        &["mem", "status"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        "cannot reach the Docker engine at unix:///nonexistent/docker.sock (no socket at /nonexistent/docker.sock)",
    );
}

#[test]
fn a_refused_tcp_endpoint_says_so() {
    unknown_with(
        &["mem", "status"],
        &[("DOCKER_HOST", "tcp://127.0.0.1:9")],
        "cannot reach the Docker engine at tcp://127.0.0.1:9",
    );
}

#[test]
fn a_hung_engine_times_out_with_a_sentence() {
    let docker = HungDocker::start();
    let endpoint = docker.endpoint();
    let started = std::time::Instant::now();
    unknown_with(
        &["mem", "status"],
        &[
            ("DOCKER_HOST", endpoint.as_str()),
            ("INCIDENT_BOT_DOCKER__TIMEOUT_SECS", "1"),
        ],
        &format!("the Docker engine at {endpoint} did not answer within 1s"),
    );
    // Bounded by the timeout, not by the engine: a second plus start-up.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn unsupported_endpoints_are_refused() {
    unknown_with(
        &["mem", "status"],
        &[("DOCKER_HOST", "ssh://ops@host")],
        "unsupported Docker endpoint ssh://ops@host",
    );
}

#[test]
fn usage_errors_exit_unknown_not_critical() {
    unknown_with(&["mem", "nosuch"], &[], "unrecognized subcommand 'nosuch'");
    unknown_with(
        &["disk", "status"],
        &[],
        "unknown command 'disk'; runbooks: mem",
    );
    unknown_with(
        &["mem", "status", "--all", "--project", "x"],
        &[],
        "cannot be used with",
    );
    unknown_with(
        &["mem", "leaks"],
        &[],
        "step 'leaks' judges memory over time, which needs the history the bot's live watcher records",
    );
    unknown_with(
        &["mem", "profile"],
        &[],
        "profiling needs a service; the runbook declares profilers for: web, celery_worker",
    );
}

#[test]
fn bad_configuration_is_one_sentence() {
    unknown_with(
        &["mem", "status"],
        &[("INCIDENT_BOT_DOCKER__TIMEOUT_SECS", "soon")],
        "invalid configuration",
    );
    unknown_with(
        &["--config", "/nonexistent/bot.toml", "mem", "status"],
        &[],
        "config file /nonexistent/bot.toml does not exist",
    );
}

#[test]
fn help_documents_exit_codes_and_runbook_steps() {
    let out = bot(&["--help"], &[]);
    assert!(out.status.success());
    let help = stdout(&out);
    for needle in [
        "0  OK",
        "1  WARNING",
        "2  CRITICAL",
        "3  UNKNOWN",
        "incident-bot mem status",
    ] {
        assert!(help.contains(needle), "{needle:?} in {help}");
    }
    let out = bot(&["mem", "--help"], &[]);
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(
        help.contains("status") && help.contains("Check current memory usage"),
        "{help}"
    );
}

#[test]
fn a_numeric_project_name_from_the_environment_is_a_name() {
    unknown_with(
        &["mem", "status"],
        &[("INCIDENT_BOT_WATCH__PROJECT", "2024")],
        "no running containers in Compose project '2024'",
    );
    unknown_with(
        &["mem", "status", "--project", " "],
        &[],
        "--project needs a Compose project name",
    );
}

#[test]
fn with_json_every_error_is_json_on_stdout() {
    for (args, env) in [
        (
            &["mem", "status", "--json"][..],
            &[("DOCKER_HOST", "ssh://x")][..],
        ),
        (
            &["mem", "status", "--json", "--config", "/nonexistent.toml"][..],
            &[][..],
        ),
        (&["mem", "nosuch", "--json"][..], &[][..]),
        (
            &["mem", "status", "--json"][..],
            &[("INCIDENT_BOT_RUNBOOKS__DIR", "/nonexistent")][..],
        ),
    ] {
        let out = bot(args, env);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let json: serde_json::Value = serde_json::from_str(stdout(&out).trim())
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {:?}", stdout(&out)));
        assert_eq!(json["outcome"], "unknown");
        assert!(!json["error"].as_str().unwrap().is_empty());
    }
}
