//! Table-driven tests of runbook parsing and validation: one `check` helper,
//! one small valid runbook, and edits of it that must fail at a given line.

use super::*;
use std::collections::BTreeMap;

/// A minimal valid runbook; cases edit it with `replace`.
const BASE: &str = r#"
[runbook]
id = "mem"
title = "Memory Issues"
severity = "critical"
estimated_ttr_minutes = 30
owner = "DevOps Team"

[detection]
alerts = ["OomKiller"]

[[steps]]
id = "status"
title = "Check current memory usage"
expected = "Total memory < 80%, individual processes < 500MB"
if_different = "Memory leak or excessive memory usage"
[steps.check]
kind = "container_memory"
process_max_mib = 500
total_max_percent = 80

[[resolutions]]
id = "memory-leaks"
title = "For Memory Leaks"
[[resolutions.items]]
kind = "action"
text = "Restart affected services"
action = "restart"

[[actions]]
id = "restart"
title = "Restart"
[actions.effect]
kind = "restart_service"
services = ["web"]
stop_timeout_secs = 30
rate_limit_per_hour = 3

[[roster_roles]]
id = "devops_lead"
title = "DevOps Lead"

[[escalations]]
id = "oom-downtime"
text = "If OOM causing downtime, escalate immediately"
condition = "oom_downtime"
after_minutes = 0
target = "devops_lead"

[[alerts]]
name = "OomKiller"
summary = "OOM kill"
[alerts.condition]
kind = "oom_kill"
"#;

/// Parses `BASE` with `from` replaced by `to` (and `extra` appended), and
/// expects exactly the problems given as (line, message fragment).
fn check(edits: &[(&str, &str)], extra: &str, expected: &[(usize, &str)]) {
    let mut source = BASE.to_string();
    for (from, to) in edits {
        assert!(source.contains(from), "edit target {from:?} not in BASE");
        source = source.replacen(from, to, 1);
    }
    source.push_str(extra);
    let problems = match Runbook::parse(&source, "t.toml") {
        Ok(_) => Vec::new(),
        Err(p) => p,
    };
    let got: Vec<(usize, String)> = problems
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "problems: {got:#?}\nexpected: {expected:?}"
    );
    for ((line, msg), (want_line, want)) in got.iter().zip(expected) {
        assert_eq!(line, want_line, "line of {msg:?}");
        assert!(msg.contains(want), "{msg:?} should contain {want:?}");
    }
    assert!(problems.iter().all(|p| p.origin == "t.toml"));
}

#[test]
fn the_base_runbook_is_valid() {
    check(&[], "", &[]);
}

#[test]
fn the_shipped_memory_runbook_is_whole() {
    let rb = Runbook::parse(include_str!("../../../../commands/mem.toml"), "mem.toml")
        .unwrap_or_else(|p| panic!("{p:#?}"));
    assert_eq!(rb.id(), "mem");
    assert_eq!(rb.runbook.estimated_ttr_minutes, 30);
    assert_eq!(rb.runbook.severity, Severity::Critical);
    let steps: Vec<&str> = rb.steps.iter().map(|s| s.get_ref().id.as_str()).collect();
    assert_eq!(steps, ["status", "leaks", "profile", "connections"]);
    let Check::ContainerMemory(c) = &rb.step("status").unwrap().check else {
        panic!("step 1 checks container memory");
    };
    assert_eq!(
        (c.process_max_mib, c.total_max_percent),
        (Some(500.0), Some(80.0))
    );
    assert_eq!(rb.causes.len(), 5);
    assert_eq!(rb.resolutions.len(), 4);
    assert_eq!(rb.verification.len(), 4);
    let esc: Vec<(EscalationCondition, u32, &str)> = rb
        .escalations
        .iter()
        .map(|e| {
            let e = e.get_ref();
            (e.condition, e.after_minutes, e.target.as_str())
        })
        .collect();
    assert_eq!(
        esc,
        [
            (EscalationCondition::OomDowntime, 0, "devops_lead"),
            (
                EscalationCondition::Unresolved,
                60,
                "senior_devops_engineer"
            )
        ]
    );
    let alerts: Vec<&str> = rb
        .alerts
        .iter()
        .map(|a| a.get_ref().name.as_str())
        .collect();
    assert_eq!(alerts, ["HighMemoryUsage", "OomKiller", "MemoryForecast"]);
}

#[test]
fn schema_errors_point_at_their_line() {
    // An unknown key (a typo) inside a step's check.
    check(
        &[("process_max_mib = 500", "process_max_mb = 500")],
        "",
        &[(17, "unknown field `process_max_mb`")],
    );
    // An unknown check kind.
    check(
        &[("kind = \"container_memory\"", "kind = \"disk_usage\"")],
        "",
        &[(18, "unknown variant `disk_usage`")],
    );
    // A wrong type.
    check(
        &[(
            "estimated_ttr_minutes = 30",
            "estimated_ttr_minutes = \"half an hour\"",
        )],
        "",
        &[(6, "invalid type")],
    );
    // Unknown top-level table.
    check(
        &[],
        "\n[extras]\nx = 1\n",
        &[(56, "unknown field `extras`")],
    );
}

#[test]
fn validation_reports_every_problem_with_its_line() {
    check(
        &[
            ("process_max_mib = 500", "process_max_mib = -5"),
            ("total_max_percent = 80", "total_max_percent = 180"),
            ("target = \"devops_lead\"", "target = \"cto\""),
        ],
        "",
        &[
            (
                12,
                "step 'status': process_max_mib must be a number greater than 0",
            ),
            (
                12,
                "step 'status': total_max_percent must be above 0 and at most 100",
            ),
            (43, "target 'cto' is not a [[roster_roles]] id"),
        ],
    );
}

#[test]
fn ids_must_be_unique_and_usable_as_subcommands() {
    let second_step = r#"
[[steps]]
id = "status"
title = "Again"
expected = "x"
if_different = "y"
[steps.check]
kind = "oom_scan"
log_patterns = ["Out of memory"]
"#;
    check(&[], second_step, &[(56, "step 'status': duplicate id")]);
    check(
        &[("id = \"status\"", "id = \"Status Now\"")],
        "",
        &[(12, "must be 1-32 characters")],
    );
    // A step and an action would both become `/mem restart`.
    check(
        &[("id = \"status\"", "id = \"restart\"")],
        "",
        &[(30, "action 'restart': id already used")],
    );
}

#[test]
fn references_must_resolve() {
    check(
        &[("action = \"restart\"", "action = \"reboot\"")],
        "",
        &[(22, "action 'reboot' is not an [[actions]] id")],
    );
    check(
        &[("alerts = [\"OomKiller\"]", "alerts = [\"DiskFull\"]")],
        "",
        &[(1, "detection alert 'DiskFull'")],
    );
}

#[test]
fn actions_keep_the_two_person_rule_and_declared_parameters() {
    check(
        &[("title = \"Restart\"", "title = \"Restart\"\napprovals = 0")],
        "",
        &[(30, "approvals must be at least 1")],
    );
    let recreate = r#"
[[actions]]
id = "restart-workers"
title = "Restart workers"
[actions.effect]
kind = "recreate_with_command"
service = "celery_worker"
command = ["celery", "worker", "--concurrency={concurrency}", "{shell}"]
[[actions.effect.params]]
name = "concurrency"
min = 1
max = 16
default = 32
"#;
    check(
        &[],
        recreate,
        &[
            (56, "parameter 'concurrency' needs min <= default <= max"),
            (56, "placeholder {shell} is not a declared parameter"),
        ],
    );
}

#[test]
fn parameters_and_ids_must_fit_the_commands_they_become() {
    let recreate = |params: &str| {
        format!(
            r#"
[[actions]]
id = "restart-workers"
title = "Restart workers"
[actions.effect]
kind = "recreate_with_command"
service = "celery_worker"
command = ["celery", "worker"]
{params}
"#
        )
    };
    let param = |name: &str, min: i64| {
        format!("[[actions.effect.params]]\nname = \"{name}\"\nmin = {min}\nmax = 8\ndefault = 2\n")
    };
    check(
        &[],
        &recreate(&param("reason", 1)),
        &[(56, "clashes with a built-in option")],
    );
    check(
        &[],
        &recreate(&param("Con currency", 1)),
        &[(56, "must be 1-32 characters")],
    );
    check(&[], &recreate(&param("n", -1)), &[(56, "min >= 0")]);
    check(
        &[],
        &recreate(&format!("{}{}", param("n", 1), param("n", 1))),
        &[(56, "declared twice"), (56, "declared twice")],
    );
    for taken in ["serve", "incident", "audit", "health"] {
        check(
            &[("id = \"mem\"", &format!("id = \"{taken}\""))],
            "",
            &[(1, "is taken by a built-in command")],
        );
    }
}

#[test]
fn overrides_change_thresholds_and_are_validated() {
    let mut rb = Runbook::parse(BASE, "t.toml").unwrap();
    let table = |src: &str| -> BTreeMap<String, toml::Table> {
        BTreeMap::from([("status".to_string(), src.parse::<toml::Table>().unwrap())])
    };
    rb.apply_overrides(&table("process_max_mib = 700"), "config")
        .unwrap();
    let Check::ContainerMemory(c) = &rb.step("status").unwrap().check else {
        panic!()
    };
    assert_eq!(c.process_max_mib, Some(700.0));
    assert_eq!(c.total_max_percent, Some(80.0), "other keys are kept");
    assert!(
        rb.step("status")
            .unwrap()
            .expected
            .ends_with(" (here: process_max_mib = 700)"),
        "the Expected line says which bar is in force"
    );

    for (src, want) in [
        ("process_max_mb = 700", "unknown field `process_max_mb`"),
        (
            "total_max_percent = 101",
            "total_max_percent must be above 0 and at most 100",
        ),
        (
            "kind = \"oom_scan\"",
            "kind of a check cannot be overridden",
        ),
        (
            "warn_ratio = \"0.5\"",
            "only numeric thresholds can be overridden",
        ),
    ] {
        let mut rb = Runbook::parse(BASE, "t.toml").unwrap();
        let err = rb.apply_overrides(&table(src), "config").unwrap_err();
        assert!(
            err[0].message.contains(want),
            "{:?} for {src}",
            err[0].message
        );
        assert_eq!(err[0].origin, "config");
    }
    let mut rb = Runbook::parse(BASE, "t.toml").unwrap();
    let err = rb
        .apply_overrides(
            &BTreeMap::from([("leaks".into(), toml::Table::new())]),
            "config",
        )
        .unwrap_err();
    assert!(err[0].message.contains("has no step or alert 'leaks'"));
}

#[test]
fn alert_conditions_take_numeric_overrides_by_alert_name() {
    let mut rb = Runbook::parse(include_str!("../../../../commands/mem.toml"), "mem.toml").unwrap();
    let table: toml::Table = toml::from_str("for_secs = 2\nprocess_max_mib = 20").unwrap();
    rb.apply_overrides(
        &BTreeMap::from([("HighMemoryUsage".into(), table)]),
        "config",
    )
    .unwrap();
    let cond = &rb.alerts[0].get_ref().condition;
    assert_eq!(
        *cond,
        AlertCondition::HighMemory {
            process_max_mib: 20.0,
            total_max_percent: 80.0,
            for_secs: 2
        }
    );
    // Text cannot be smuggled in, and unknown keys are reported.
    for bad in ["kind = \"oom_kill\"", "for_secs = \"soon\"", "for_ever = 1"] {
        let table: toml::Table = toml::from_str(bad).unwrap();
        let mut rb =
            Runbook::parse(include_str!("../../../../commands/mem.toml"), "mem.toml").unwrap();
        let err = rb
            .apply_overrides(
                &BTreeMap::from([("HighMemoryUsage".into(), table)]),
                "config",
            )
            .unwrap_err();
        assert!(
            err[0].message.starts_with("thresholds.mem.HighMemoryUsage"),
            "{err:?}"
        );
    }
}
