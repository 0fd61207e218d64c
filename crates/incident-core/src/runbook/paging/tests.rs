//! The paging section's validation, on the shipped runbook with edits.

use super::super::Runbook;

const MEM: &str = include_str!("../../../../../commands/mem.toml");

/// The messages of the problems of the shipped runbook with `edits`.
fn problems(edits: &[(&str, &str)]) -> Vec<String> {
    let mut source = MEM.to_string();
    for (from, to) in edits {
        assert!(
            source.contains(from),
            "edit target {from:?} not in mem.toml"
        );
        source = source.replacen(from, to, 1);
    }
    match Runbook::parse(&source, "mem.toml") {
        Ok(_) => Vec::new(),
        Err(p) => p.into_iter().map(|p| p.message).collect(),
    }
}

#[test]
fn the_shipped_runbook_pages_with_three_severities() {
    let rb = Runbook::parse(MEM, "mem.toml").unwrap();
    let p = rb.paging.as_ref().unwrap();
    assert_eq!(rb.severity_for(Some("OomKiller")).unwrap().id, "sev2");
    assert_eq!(rb.severity_for(Some("HighMemoryUsage")).unwrap().id, "sev3");
    assert_eq!(rb.severity_for(None).unwrap().id, p.default_severity);
    assert_eq!(
        rb.severity_rank(&p.downtime_severity),
        Some(0),
        "downtime is the highest"
    );
    assert_eq!(rb.severity("sev1").unwrap().repeat_minutes, 5);
}

#[test]
fn every_paging_reference_and_bound_is_checked() {
    for (edit, says) in [
        (
            ("page_first = \"on_call\"", "page_first = \"nobody\""),
            "page_first 'nobody' is not a [[roster_roles]] id",
        ),
        (
            ("repeat_minutes = 5", "repeat_minutes = 0"),
            "repeat_minutes must be 1-1440",
        ),
        (
            ("event_severity = \"critical\"", "event_severity = \"loud\""),
            "event_severity must be one of",
        ),
        (
            ("id = \"sev2\"", "id = \"sev1\""),
            "severity 'sev1': duplicate id",
        ),
        (
            ("id = \"sev3\"", "id = \"Sev 3\""),
            "severity 'Sev 3': id must be",
        ),
        (
            ("severity = \"sev3\"\n", "severity = \"sev9\"\n"),
            "alert 'HighMemoryUsage': severity 'sev9'",
        ),
        (
            ("default_severity = \"sev2\"", "default_severity = \"p1\""),
            "paging.default_severity 'p1'",
        ),
        (
            ("downtime_severity = \"sev1\"", "downtime_severity = \"\""),
            "paging.downtime_severity ''",
        ),
        (
            ("pages_per_role = 2", "pages_per_role = 0"),
            "pages_per_role must be 1-10",
        ),
        (
            ("max_pages = 8", "max_pages = 0"),
            "max_pages must be 1-100",
        ),
        (
            ("flap_minutes = 10", "flap_minutes = 2000"),
            "flap_minutes must be at most 1440",
        ),
        (
            ("silence_max_minutes = 1440", "silence_max_minutes = 20000"),
            "silence_max_minutes must be 1-10080",
        ),
        (
            (
                "silence_default_minutes = 60",
                "silence_default_minutes = 2000",
            ),
            "silence_default_minutes must be",
        ),
    ] {
        let got = problems(&[edit]);
        assert!(
            got.iter().any(|p| p.contains(says)),
            "{edit:?}: {got:#?} should say {says:?}"
        );
    }
    let got = problems(&[("\n[paging]\n", "\n[paging_typo]\n")]);
    assert!(!got.is_empty(), "an unknown section is refused");
}

#[test]
fn the_reverify_schedule_is_checked() {
    let rb = Runbook::parse(MEM, "mem.toml").unwrap();
    assert_eq!(rb.reverify.as_ref().unwrap().after_minutes, [5, 15, 60]);
    for (edit, says) in [
        (
            ("after_minutes = [5, 15, 60]", "after_minutes = [15, 5]"),
            "ascending",
        ),
        (
            ("after_minutes = [5, 15, 60]", "after_minutes = []"),
            "ascending",
        ),
        (
            ("after_minutes = [5, 15, 60]", "after_minutes = [5, 2000]"),
            "each 1-1440",
        ),
        (
            ("reopen_within_minutes = 1440", "reopen_within_minutes = 0"),
            "reopen_within_minutes must be",
        ),
    ] {
        let got = problems(&[edit]);
        assert!(got.iter().any(|p| p.contains(says)), "{edit:?}: {got:#?}");
    }
}
