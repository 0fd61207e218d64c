use super::*;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-03-01 14:00 UTC);

fn ladder() -> Vec<RosterRole> {
    ["on_call", "senior", "lead"]
        .iter()
        .map(|id| RosterRole {
            id: id.to_string(),
            title: id.to_string(),
        })
        .collect()
}

fn paging() -> Paging {
    Paging {
        default_severity: "sev2".into(),
        downtime_severity: "sev1".into(),
        pages_per_role: 2,
        max_pages: 7,
        flap_minutes: 10,
        silence_default_minutes: 60,
        silence_max_minutes: 480,
    }
}

fn sev(first: &str, repeat: u32) -> SeverityLevel {
    SeverityLevel {
        id: "sev2".into(),
        title: "t".into(),
        page_first: first.into(),
        repeat_minutes: repeat,
        event_severity: "error".into(),
    }
}

#[test]
fn pages_repeat_then_climb_the_roster_to_the_top_and_stop_at_the_cap() {
    let (l, p, s) = (ladder(), paging(), sev("on_call", 5));
    let roles: Vec<String> = (0..8)
        .filter_map(|n| page(&l, &p, &s, n, T0))
        .map(|pg| pg.role)
        .collect();
    assert_eq!(
        roles,
        ["on_call", "on_call", "senior", "senior", "lead", "lead", "lead"]
    );
    assert_eq!(
        page(&l, &p, &s, 0, T0).unwrap().next_at,
        Some(T0 + Duration::minutes(5))
    );
    assert_eq!(
        page(&l, &p, &s, 6, T0).unwrap().next_at,
        None,
        "the last page"
    );
    assert_eq!(page(&l, &p, &s, 7, T0), None);
}

#[test]
fn a_severity_may_start_higher_up() {
    let (l, p, s) = (ladder(), paging(), sev("senior", 1));
    assert_eq!(page(&l, &p, &s, 0, T0).unwrap().role, "senior");
    assert_eq!(page(&l, &p, &s, 2, T0).unwrap().role, "lead");
    assert_eq!(
        next_after(T0, &s),
        T0 + Duration::minutes(1),
        "the severity's own interval"
    );
}

#[test]
fn a_silence_covers_its_service_or_everything() {
    assert!(covers(None, Some("web")));
    assert!(covers(None, None));
    assert!(covers(Some("web"), Some("web")));
    assert!(!covers(Some("web"), Some("worker")));
    assert!(!covers(Some("web"), None), "the total is not one service");
}

#[test]
fn silence_lengths_are_bounded_by_the_runbook() {
    let p = paging();
    assert_eq!(silence_minutes(None, &p), Ok(60));
    assert_eq!(silence_minutes(Some(30), &p), Ok(30));
    assert!(silence_minutes(Some(0), &p).is_err());
    assert!(silence_minutes(Some(481), &p)
        .unwrap_err()
        .contains("1 to 480"));
}

#[test]
fn blindness_counts_only_after_a_minute_and_blames_the_engine_first() {
    let after = Duration::seconds(60);
    let now = T0 + Duration::minutes(10);
    let seeing = Sight {
        engine_down_since: None,
        last_round: Some(now - Duration::seconds(2)),
        database_down_since: None,
    };
    assert!(blind(&seeing, T0, now, after).is_empty());
    let short = Sight {
        engine_down_since: Some(now - Duration::seconds(59)),
        last_round: Some(now - Duration::seconds(59)),
        ..seeing
    };
    assert!(blind(&short, T0, now, after).is_empty(), "under a minute");
    let engine = Sight {
        engine_down_since: Some(now - Duration::seconds(61)),
        last_round: Some(now - Duration::seconds(61)),
        database_down_since: Some(now - Duration::seconds(90)),
    };
    assert_eq!(
        blind(&engine, T0, now, after),
        [Blind::Engine, Blind::Database],
        "a stalled watcher is the engine's fault while it is down"
    );
    let stalled = Sight {
        last_round: Some(now - Duration::seconds(61)),
        ..seeing
    };
    assert_eq!(blind(&stalled, T0, now, after), [Blind::Watcher]);
    let never = Sight {
        last_round: None,
        ..seeing
    };
    assert_eq!(blind(&never, now - Duration::seconds(30), now, after), []);
    assert_eq!(blind(&never, T0, now, after), [Blind::Watcher]);
}
