//! Alerts as people see them: the line above an alert's report, the count
//! of a crash loop, the resolution.

use crate::core::alerting::AlertEvent;

/// The line above an alert's report.
pub fn headline(ev: &AlertEvent, incident: i64, joined: bool) -> String {
    format!(
        "**{}** firing ({}): {} · incident #{incident}{}",
        ev.name,
        ev.source.as_str(),
        ev.summary,
        if joined {
            " (joined the open incident)"
        } else {
            ""
        }
    )
}

/// An alert's resolution, said in its incident's thread.
pub fn resolved(ev: &AlertEvent) -> String {
    format!(
        "**{}** resolved ({}): {}",
        ev.name,
        ev.source.as_str(),
        ev.summary
    )
}
