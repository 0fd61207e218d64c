//! The administrative commands: `migrate`, `audit` and `forget-node`, and
//! the database and runtime they share with `serve`.

use super::fail;
use crate::config::Settings;
use crate::store::{Forget, Store};
use std::process::ExitCode;

/// The bot's database from DATABASE_URL (never logged: it may hold a
/// password).
fn database(settings: &Settings) -> Result<Store, String> {
    crate::startup::store(settings).map_err(|e| e.to_string())
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// `incident-bot migrate`.
pub(super) fn migrate(settings: &Settings) -> ExitCode {
    let store = match database(settings) {
        Ok(store) => store,
        Err(sentence) => return fail(&sentence, 1),
    };
    match runtime().block_on(store.migrate()) {
        Ok(applied) if applied.is_empty() => {
            outln!("{}: up to date", store.location());
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            for m in applied {
                outln!("{}: applied {m}", store.location());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string(), 1),
    }
}

/// `incident-bot forget-node <node>`: audited whatever it comes to.
pub(super) fn forget_node(settings: &Settings, node: &str) -> ExitCode {
    if !crate::core::commands::is_node_name(node) {
        return fail(
            &format!("'{}' is not a node name", crate::core::text::clip(node, 64)),
            1,
        );
    }
    let store = match database(settings) {
        Ok(store) => store,
        Err(sentence) => return fail(&sentence, 1),
    };
    let quiet = std::time::Duration::from_secs(settings.fleet.blind_after_secs.max(1));
    let rt = runtime();
    let (result, code) = match rt.block_on(store.forget_node(node, quiet)) {
        Ok(Forget::Forgotten) => {
            outln!("forgot node {node} and its samples");
            ("forgotten".to_string(), ExitCode::SUCCESS)
        }
        Ok(Forget::StillHeard { silent_secs }) => {
            let sentence = format!(
                "node {node} published {silent_secs:.0} s ago: its bot still runs; stop it first"
            );
            (format!("refused: {sentence}"), fail(&sentence, 1))
        }
        Ok(Forget::Unknown) => {
            let sentence = format!("no node {node} in the fleet");
            (format!("refused: {sentence}"), fail(&sentence, 1))
        }
        Err(e) => return fail(&e.to_string(), 1),
    };
    let entry = crate::store::AuditEntry {
        at: time::OffsetDateTime::now_utc(),
        actor: "incident-bot forget-node (terminal)".into(),
        action: "forget node".into(),
        target: Some(node.to_string()),
        result,
        detail: None,
    };
    if let Err(e) = rt.block_on(store.audit(&entry)) {
        eprintln!("warning: the audit row was not written: {e}");
    }
    code
}

/// `incident-bot audit --since <time>`.
pub(super) fn audit(settings: &Settings, since: &str, json: bool) -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    let since = match parse_since(since, now) {
        Ok(t) => t,
        Err(sentence) => return fail(&sentence, 1),
    };
    let store = match database(settings) {
        Ok(store) => store,
        Err(sentence) => return fail(&sentence, 1),
    };
    let rows = match runtime().block_on(store.audit_since(since)) {
        Ok(rows) => rows,
        Err(e) => return fail(&e.to_string(), 1),
    };
    for r in &rows {
        if json {
            outln!(
                "{}",
                serde_json::to_string(r).expect("an audit row serializes")
            );
        } else {
            outln!(
                "{}  {}  {}  {}  {}",
                r.at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                r.actor,
                r.action,
                r.target.as_deref().unwrap_or("-"),
                r.result
            );
        }
    }
    if !json {
        eprintln!(
            "{} entries since {}",
            rows.len(),
            crate::core::incident::stamp(since)
        );
    }
    ExitCode::SUCCESS
}

/// An RFC 3339 time, or an age before `now` (`30m`, `12h`, `7d`, `90s`).
fn parse_since(text: &str, now: time::OffsetDateTime) -> Result<time::OffsetDateTime, String> {
    let text = text.trim();
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return Ok(t);
    }
    let split = text.len().saturating_sub(1);
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().map_err(|_| {
        format!("--since takes an RFC 3339 time or an age like 30m, 12h, 7d; not '{text}'")
    })?;
    let age = match unit {
        "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => {
            return Err(format!(
                "--since takes an RFC 3339 time or an age like 30m, 12h, 7d; not '{text}'"
            ))
        }
    };
    Ok(now - age)
}

#[cfg(test)]
mod tests {
    use super::parse_since;
    use time::macros::datetime;

    #[test]
    fn since_takes_times_and_ages() {
        let now = datetime!(2026-02-21 14:00:00 UTC);
        for (text, expected) in [
            (
                "2026-02-20T09:30:00Z",
                Ok(datetime!(2026-02-20 09:30:00 UTC)),
            ),
            ("30m", Ok(datetime!(2026-02-21 13:30:00 UTC))),
            ("12h", Ok(datetime!(2026-02-21 02:00:00 UTC))),
            ("7d", Ok(datetime!(2026-02-14 14:00:00 UTC))),
            ("yesterday", Err("--since takes")),
            ("5w", Err("not '5w'")),
            ("", Err("--since takes")),
        ] {
            match (parse_since(text, now), expected) {
                (Ok(t), Ok(want)) => assert_eq!(t, want, "{text}"),
                (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{e}"),
                (got, want) => panic!("{text}: {got:?} vs {want:?}"),
            }
        }
    }
}
