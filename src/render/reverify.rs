//! Re-verification as chat text: one compact line per run, and the
//! regression message.

use crate::core::diagnosis::Outcome;
use crate::core::verification::{ItemResult, VerifyReport};

/// `Re-check +5 min after the restart: PASS · Total memory usage < 80%: …`.
pub fn line(offset_minutes: i32, after: &str, report: &VerifyReport) -> String {
    let after = if after == "resolve" {
        "resolving".to_string()
    } else {
        format!("the {after}")
    };
    let items: Vec<String> = report
        .items
        .iter()
        .map(|i| format!("{} {}", mark(i.outcome), i.observed))
        .collect();
    crate::core::text::clip(
        &format!(
            "Re-check +{offset_minutes} min after {after}: **{}** · {}",
            report.outcome.label(),
            items.join(" · ")
        ),
        1900,
    )
}

fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✅",
        Outcome::Warn => "⚠️",
        Outcome::Fail => "❌",
        Outcome::Unknown => "❔",
    }
}

/// The regression, naming who is pinged (`who`: mentions) and what came
/// back.
pub fn regression(incident: i64, what: &str, failed: &[&ItemResult], who: &str) -> String {
    let items: Vec<String> = failed
        .iter()
        .map(|i| format!("{}: {}", i.text, i.observed))
        .collect();
    crate::core::text::clip(
        &format!(
            "**Regression** of incident #{incident}, {what}: {}\n{who}",
            items.join("; ")
        ),
        1900,
    )
}
