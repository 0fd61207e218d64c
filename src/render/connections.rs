//! Step 4's report as text: the breakdowns and the oldest
//! idle-in-transaction sessions, aligned for a terminal or a code block.

use crate::core::connections::ConnectionsReport;
use crate::core::trend::span;
use std::fmt::Write;

/// The breakdowns (each at most `max_rows` lines) and the sessions idle in
/// a transaction, oldest first.
pub fn connections_table(r: &ConnectionsReport, max_rows: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} open · bar {} · max_connections {} · headroom {}",
        r.total, r.bar, r.max_connections, r.headroom
    );
    for (title, rows) in [
        ("BY STATE", &r.by_state),
        ("BY APPLICATION", &r.by_application),
        ("BY USER@CLIENT", &r.by_user_client),
    ] {
        let width = rows
            .iter()
            .take(max_rows)
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(title.len());
        let _ = writeln!(out, "\n{title:<width$}  N");
        for (k, n) in rows.iter().take(max_rows) {
            let _ = writeln!(out, "{k:<width$}  {n}");
        }
        if rows.len() > max_rows {
            let _ = writeln!(out, "… and {} more", rows.len() - max_rows);
        }
    }
    if !r.idle_in_transaction.is_empty() {
        let _ = writeln!(out, "\nIDLE IN TRANSACTION (oldest first)");
        for s in r.idle_in_transaction.iter().take(max_rows) {
            let app = if s.application.is_empty() {
                "(none)"
            } else {
                s.application.as_str()
            };
            let _ = writeln!(
                out,
                "pid {:<7} {:<16} {}@{}  idle {}",
                s.pid,
                app,
                s.user,
                s.client,
                span(s.state_secs)
            );
        }
    }
    out
}
