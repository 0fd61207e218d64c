//! The escalation policy, table-driven, with the clock passed in.

use super::*;
use crate::runbook::Runbook;
use time::macros::datetime;

const OPENED: OffsetDateTime = datetime!(2026-02-21 14:00:00 UTC);

fn mem() -> Runbook {
    Runbook::parse(include_str!("../../../../commands/mem.toml"), "mem.toml").unwrap()
}

fn rules(rb: &Runbook) -> Vec<&Escalation> {
    rb.escalations.iter().map(|e| e.get_ref()).collect()
}

#[test]
fn the_memory_runbook_escalates_after_an_hour_and_at_once_on_oom() {
    let rb = mem();
    let opened = on_open(&rules(&rb), OPENED);
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].target, "senior_devops_engineer");
    assert_eq!(opened[0].due_at, OPENED + Duration::hours(1));
    assert!(opened[0].text.contains("unresolved after 1 hour"));

    let now = OPENED + Duration::minutes(7);
    let oom = on_oom_downtime(&rules(&rb), now);
    assert_eq!(oom.len(), 1);
    assert_eq!(
        (oom[0].target.as_str(), oom[0].due_at),
        ("devops_lead", now)
    );
}

#[test]
fn manual_escalation_climbs_the_roster() {
    let rb = mem();
    let ladder: Vec<RosterRole> = rb
        .roster_roles
        .iter()
        .map(|r| r.get_ref().clone())
        .collect();
    let next = |pinged: &[&str]| {
        let pinged: Vec<String> = pinged.iter().map(|s| s.to_string()).collect();
        next_level(&ladder, &pinged).unwrap().id.clone()
    };
    assert_eq!(next(&[]), "on_call");
    assert_eq!(next(&["on_call"]), "senior_devops_engineer");
    assert_eq!(next(&["senior_devops_engineer"]), "devops_lead");
    assert_eq!(
        next(&["on_call", "devops_lead"]),
        "devops_lead",
        "the top stays the top"
    );
    assert!(next_level(&[], &[]).is_none());
}

#[test]
fn mentions_fall_back_from_person_to_role_to_on_call() {
    // (person, role, on-call roles) → (text, users, roles)
    type Case<'a> = (
        Option<u64>,
        Option<u64>,
        &'a [u64],
        &'a str,
        &'a [u64],
        &'a [u64],
    );
    let cases: [Case; 4] = [
        (Some(7), Some(8), &[9], "<@7> (DevOps Lead)", &[7], &[]),
        (None, Some(8), &[9], "<@&8> (DevOps Lead)", &[], &[8]),
        (
            None,
            None,
            &[9],
            "<@&9> (DevOps Lead: nobody is on the roster, so on-call)",
            &[],
            &[9],
        ),
        (
            None,
            None,
            &[],
            "DevOps Lead (nobody is on the roster: set one with /oncall set)",
            &[],
            &[],
        ),
    ];
    for (person, role, on_call, text, users, roles) in cases {
        let m = mention("DevOps Lead", person, role, on_call);
        assert_eq!(m.text, text);
        assert_eq!((m.users.as_slice(), m.roles.as_slice()), (users, roles));
    }
}

#[test]
fn lateness_is_said_only_when_it_matters() {
    assert_eq!(lateness(OPENED, OPENED + Duration::milliseconds(300)), None);
    assert_eq!(
        lateness(OPENED, OPENED + Duration::seconds(95)).unwrap(),
        "1 min late"
    );
}
