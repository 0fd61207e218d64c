//! The command surface derived from the shipped runbook, and input checks.

use super::*;

fn mem() -> CommandSpec {
    let rb = Runbook::parse(include_str!("../../../../commands/mem.toml"), "mem.toml").unwrap();
    spec(&rb, false)
}

fn sub<'a>(spec: &'a CommandSpec, name: &str) -> &'a SubcommandSpec {
    spec.subcommands.iter().find(|s| s.name == name).unwrap()
}

#[test]
fn the_memory_runbook_becomes_the_mem_group() {
    let spec = mem();
    assert_eq!(spec.name, "mem");
    let names: Vec<&str> = spec.subcommands.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "status",
            "leaks",
            "profile",
            "connections",
            "restart",
            "close-idle",
            "restart-workers",
            "causes",
            "verify",
            "escalate",
            "silence",
            "silences",
            "unsilence",
            "runbook"
        ]
    );
    assert!(spec
        .subcommands
        .iter()
        .all(|s| !s.description.is_empty() && s.description.chars().count() <= 100));
    assert_eq!(sub(&spec, "status").options, vec![]);
    let leaks: Vec<&str> = sub(&spec, "leaks")
        .options
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(leaks, ["service", "window"]);
    // Restart only offers the services the runbook allows, and needs a reason.
    let restart = sub(&spec, "restart");
    assert_eq!(restart.target, Target::Action("restart".into()));
    assert_eq!(
        restart.options[0].kind,
        OptionKind::Service {
            allowed: vec!["web".into(), "celery_worker".into()]
        }
    );
    assert!(restart.options[1].required && restart.options[1].name == "reason");
    // Worker parameters are typed integers with the runbook's bounds, after
    // the required reason (Discord wants required options first).
    let workers = sub(&spec, "restart-workers");
    let names: Vec<&str> = workers.options.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["reason", "concurrency", "max_tasks_per_child"]);
    assert_eq!(
        workers.options[1].kind,
        OptionKind::Integer { min: 1, max: 16 }
    );
    for s in &spec.subcommands {
        let first_optional = s
            .options
            .iter()
            .position(|o| !o.required)
            .unwrap_or(s.options.len());
        assert!(
            s.options[first_optional..].iter().all(|o| !o.required),
            "/mem {}: required options first",
            s.name
        );
    }
}

/// Parses `/mem <sub>` with options; expects Ok(target) or an error containing a fragment.
fn check(sub: &str, given: &[(&str, Value)], expected: Result<Target, &str>) {
    let given: Vec<(String, Value)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    match (parse(&mem(), sub, &given), expected) {
        (Ok(inv), Ok(target)) => assert_eq!(inv.target, target),
        (Err(e), Err(fragment)) => {
            assert!(e.contains(fragment), "{e:?} should contain {fragment:?}")
        }
        (got, want) => panic!("/mem {sub} {given:?}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn input_is_checked_before_anything_runs() {
    use Value::{Integer as I, Text as T};
    let t = |s: &str| T(s.to_string());
    check("status", &[], Ok(Target::Step("status".into())));
    check(
        "leaks",
        &[("service", t("web"))],
        Ok(Target::Step("leaks".into())),
    );
    check("leaks", &[], Err("service is required"));
    check(
        "leaks",
        &[("service", t("web")), ("window", I(0))],
        Err("window must be between 1 and"),
    );
    check(
        "leaks",
        &[("service", t("web; rm -rf /"))],
        Err("is not a service name"),
    );
    check(
        "restart",
        &[("service", t("web")), ("reason", t("leak"))],
        Ok(Target::Action("restart".into())),
    );
    check(
        "restart",
        &[("service", t("postgres")), ("reason", t("x"))],
        Err("not one of the services"),
    );
    check(
        "restart",
        &[("service", t("web"))],
        Err("reason is required"),
    );
    check(
        "restart",
        &[("service", t("web")), ("reason", t("   "))],
        Err("reason must not be empty"),
    );
    check(
        "restart",
        &[("service", t("web")), ("reason", T("x".repeat(301)))],
        Err("longer than 300"),
    );
    check(
        "restart-workers",
        &[("concurrency", I(17)), ("reason", t("x"))],
        Err("between 1 and 16"),
    );
    check(
        "restart-workers",
        &[("concurrency", t("2")), ("reason", t("x"))],
        Err("wrong type"),
    );
    check("status", &[("extra", I(1))], Err("has no option 'extra'"));
    check("reboot", &[], Err("has no subcommand 'reboot'"));
    check(
        "escalate",
        &[("reason", t("an hour in"))],
        Ok(Target::Escalate),
    );
}

#[test]
fn in_a_fleet_the_memory_report_takes_a_host_and_checks_it() {
    let rb = Runbook::parse(include_str!("../../../../commands/mem.toml"), "mem.toml").unwrap();
    assert!(!sub(&mem(), "status")
        .options
        .iter()
        .any(|o| o.name == "host"));
    let fleet = spec(&rb, true);
    let status = sub(&fleet, "status");
    let host = status.options.iter().find(|o| o.name == "host").unwrap();
    assert_eq!(host.kind, OptionKind::Host);
    assert!(!host.required);
    let ok = parse(
        &fleet,
        "status",
        &[("host".into(), Value::Text(" web-2 ".into()))],
    )
    .unwrap();
    assert_eq!(ok.args.get("host"), Some(&Value::Text("web-2".into())));
    for bad in ["web 2", "$(reboot)", "", &"h".repeat(65)] {
        let err = parse(
            &fleet,
            "status",
            &[("host".into(), Value::Text(bad.into()))],
        )
        .unwrap_err();
        assert!(err.contains("is not a host name"), "{bad:?}: {err}");
    }
}

#[test]
fn silences_are_bounded_by_the_runbook_and_severity_is_a_choice() {
    let spec = mem();
    let silence = sub(&spec, "silence");
    assert_eq!(silence.target, Target::Silence(SilenceOp::Add));
    let minutes = silence
        .options
        .iter()
        .find(|o| o.name == "minutes")
        .unwrap();
    assert_eq!(minutes.kind, OptionKind::Integer { min: 1, max: 1440 });
    let given = [
        ("service".to_string(), Value::Text("web".into())),
        ("minutes".to_string(), Value::Integer(1441)),
        ("reason".to_string(), Value::Text("deploy".into())),
    ];
    let e = parse(&spec, "silence", &given).unwrap_err();
    assert!(e.contains("between 1 and 1440"), "{e}");
    assert!(Target::Silence(SilenceOp::Add).must_be_recorded());
    assert!(!Target::Silence(SilenceOp::List).must_be_recorded());
    let incident = incident_spec(&["mem"], &["sev1".into(), "sev2".into()], &[]);
    let e = parse(
        &incident,
        "severity",
        &[("level".to_string(), Value::Text("sev9".into()))],
    )
    .unwrap_err();
    assert!(e.contains("sev1, sev2"), "{e}");
    assert!(
        !incident_spec(&["mem"], &[], &[])
            .subcommands
            .iter()
            .any(|s| s.name == "severity"),
        "no severities, no subcommand"
    );
}
