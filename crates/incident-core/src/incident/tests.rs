//! The lifecycle table, durations and the postmortem's content.

use super::*;
use time::macros::datetime;

const OPENED: OffsetDateTime = datetime!(2026-02-21 14:00:00 UTC);

fn incident(state: State) -> Incident {
    let acked = state != State::Open;
    let resolved = state == State::Resolved;
    Incident {
        id: 7,
        runbook: "mem".into(),
        title: "web OOM".into(),
        severity: "critical".into(),
        estimated_ttr_minutes: 30,
        state,
        version: 3,
        opened_at: OPENED,
        opened_by: "<@1>".into(),
        acknowledged_at: acked.then_some(OPENED + Duration::minutes(4)),
        acknowledged_by: acked.then(|| "<@2>".into()),
        resolved_at: resolved.then_some(OPENED + Duration::minutes(42)),
        resolved_by: resolved.then(|| "<@3>".into()),
        resolution: resolved.then(|| "restarted web".into()),
        channel_id: 10,
        thread_id: Some(11),
        lead_id: None,
    }
}

#[test]
fn lifecycle_transitions() {
    let now = OPENED + Duration::minutes(50);
    let ack = Request::Acknowledge { by: "<@9>".into() };
    let resolve = Request::Resolve {
        by: "<@9>".into(),
        summary: "fixed".into(),
    };
    // (state, request, Ok(new state) or Err(fragment))
    let cases: [(State, &Request, Result<State, &str>); 6] = [
        (State::Open, &ack, Ok(State::Acknowledged)),
        (State::Open, &resolve, Ok(State::Resolved)),
        (State::Acknowledged, &resolve, Ok(State::Resolved)),
        (
            State::Acknowledged,
            &ack,
            Err("already acknowledged by <@2> at 14:04:00"),
        ),
        // A late acknowledgement never reopens a resolved incident.
        (
            State::Resolved,
            &ack,
            Err("already resolved by <@3> at 14:42:00"),
        ),
        (State::Resolved, &resolve, Err("already resolved")),
    ];
    for (state, req, expected) in cases {
        let got = decide(&incident(state), req, now);
        match (got, expected) {
            (Ok(change), Ok(to)) => {
                assert_eq!(change.to, to);
                assert_eq!(change.at, now);
                assert_eq!(change.by, "<@9>");
            }
            (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{e}"),
            (got, want) => panic!("{state:?} + {req:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn time_to_resolve_against_the_estimate() {
    let mut inc = incident(State::Resolved);
    assert_eq!(
        time_to_resolve_sentence(&inc).unwrap(),
        "resolved in 42 min, 12 min over the runbook's 30 min estimate"
    );
    inc.resolved_at = Some(OPENED + Duration::minutes(25));
    assert_eq!(
        time_to_resolve_sentence(&inc).unwrap(),
        "resolved in 25 min, within the runbook's 30 min estimate"
    );
    assert_eq!(time_to_resolve_sentence(&incident(State::Open)), None);
    for (d, text) in [
        (Duration::seconds(20), "20 s"),
        (Duration::minutes(42), "42 min"),
        (Duration::minutes(65), "1 h 05 min"),
        (Duration::seconds(-5), "0 s"),
    ] {
        assert_eq!(span(d), text);
    }
}

#[test]
fn the_postmortem_tells_the_whole_story() {
    let timeline = vec![
        TimelineEntry {
            at: OPENED + Duration::minutes(2),
            actor: "<@1>".into(),
            kind: "diagnosis".into(),
            summary: "/mem status: total 612 MiB; largest web".into(),
            outcome: Some("fail".into()),
            link: Some("https://discord.example/msg/1".into()),
        },
        TimelineEntry {
            at: OPENED + Duration::minutes(30),
            actor: "<@2>".into(),
            kind: "action".into(),
            summary: "restart web approved by <@3>, executed".into(),
            outcome: None,
            link: None,
        },
    ];
    let md = postmortem(
        &incident(State::Resolved),
        &timeline,
        OPENED + Duration::hours(2),
    );
    for needle in [
        "# Postmortem: incident #7: web OOM",
        "- Opened: 2026-02-21 14:00 UTC by <@1>",
        "- Acknowledged: 2026-02-21 14:04 UTC by <@2> (4 min after opening)",
        "resolved in 42 min, 12 min over the runbook's 30 min estimate",
        "- Resolution: restarted web",
        "- 14:02:00 <@1> diagnosis: /mem status: total 612 MiB; largest web [FAIL] ([report](https://discord.example/msg/1))",
        "## Actions and approvals\n\n- 14:30:00 restart web approved by <@3>, executed (<@2>)",
        "## Reports and verdicts\n\n- 14:02:00 FAIL: /mem status",
    ] {
        assert!(md.contains(needle), "{needle:?} in\n{md}");
    }
    let open = postmortem(&incident(State::Open), &[], OPENED + Duration::minutes(65));
    assert!(open.contains("- Acknowledged: never"), "{open}");
    assert!(
        open.contains("- Resolved: not yet (1 h 05 min open so far)"),
        "{open}"
    );
    assert!(open.contains("(nothing recorded)"));
}
