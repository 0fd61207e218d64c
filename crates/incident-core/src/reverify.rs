//! Verification that re-runs itself: when the runbook's checklist runs
//! again after a remedy or a resolution (`[reverify]`), whether a run found
//! a regression, and what a regression does to its incident.
//!
//! The caller keeps the schedule (durably) and runs the checklist; this
//! module only decides.

use super::runbook::Reverify;
use super::verdict::Outcome;
use super::verification::ItemResult;
use time::{Duration, OffsetDateTime};

/// The runs to schedule after a remedy or resolution at `from`: (minutes
/// after, due time), in order.
pub fn schedule(r: &Reverify, from: OffsetDateTime) -> Vec<(u32, OffsetDateTime)> {
    r.after_minutes
        .iter()
        .map(|m| (*m, from + Duration::minutes(i64::from(*m))))
        .collect()
}

/// The items of a run that show a regression: a failed item among
/// `watched` (memory over a bar, a new OOM kill, a growing trend). Items
/// that could not be judged, or that are not about memory (the health
/// URL), are reported but are no regression.
pub fn regressed<'a>(items: &'a [ItemResult], watched: &[&str]) -> Vec<&'a ItemResult> {
    items
        .iter()
        .filter(|i| i.outcome == Outcome::Fail && watched.contains(&i.id.as_str()))
        .collect()
}

/// What a regression does to its incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regression {
    /// Still open: its people are paged again.
    Page,
    /// Resolved within the window: reopened, and paged.
    Reopen,
    /// Resolved long ago: a new incident, linked to it, is opened.
    Link,
}

/// What a regression found at `now` does to an incident resolved at
/// `resolved_at` (`None`: not resolved).
pub fn after_regression(
    resolved_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    r: &Reverify,
) -> Regression {
    match resolved_at {
        None => Regression::Page,
        Some(at) if now - at <= Duration::minutes(i64::from(r.reopen_within_minutes)) => {
            Regression::Reopen
        }
        Some(_) => Regression::Link,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 14:00 UTC);

    fn rule() -> Reverify {
        Reverify {
            after_minutes: vec![5, 15, 60],
            reopen_within_minutes: 1440,
        }
    }

    fn item(id: &str, outcome: Outcome) -> ItemResult {
        ItemResult {
            id: id.into(),
            text: id.into(),
            outcome,
            observed: String::new(),
        }
    }

    #[test]
    fn runs_are_due_at_the_offsets_from_the_remedy() {
        let s = schedule(&rule(), T0);
        assert_eq!(
            s,
            [
                (5, T0 + Duration::minutes(5)),
                (15, T0 + Duration::minutes(15)),
                (60, T0 + Duration::hours(1))
            ]
        );
    }

    #[test]
    fn only_failed_memory_items_are_a_regression() {
        let items = [
            item("total-memory", Outcome::Pass),
            item("no-oom", Outcome::Fail),
            item("stable", Outcome::Unknown),
            item("responsive", Outcome::Fail),
        ];
        let watched = ["total-memory", "no-oom", "stable"];
        let found: Vec<&str> = regressed(&items, &watched)
            .iter()
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(
            found,
            ["no-oom"],
            "unknown is not failed; the health URL is not memory"
        );
    }

    #[test]
    fn a_regression_reopens_a_recent_resolution_and_links_an_old_one() {
        let r = rule();
        assert_eq!(after_regression(None, T0, &r), Regression::Page);
        assert_eq!(
            after_regression(Some(T0 - Duration::hours(2)), T0, &r),
            Regression::Reopen
        );
        assert_eq!(
            after_regression(Some(T0 - Duration::hours(25)), T0, &r),
            Regression::Link
        );
    }
}
