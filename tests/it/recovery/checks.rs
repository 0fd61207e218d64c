//! Phases of `recovery`'s tests too long to sit in them: the reconciled
//! request after a crash, and the counted OOM crash loop.

use crate::discord::{Emulator, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use std::time::{Duration, Instant};

/// The state of approved request message `msg` once it is no longer
/// "executing…" (or after `WAIT`).
pub(super) async fn settled_state(emu: &Emulator, msg: u64) -> String {
    let text = wait_state(emu, msg, "Approved by bob (<@9003>)").await;
    if !text.ends_with("executing…") {
        return text;
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let now = state_of(emu, msg);
        if !now.ends_with("executing…") || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The reconciled request #1 is said in the incident channel and audited,
/// and the service is free again: a new request for it is made.
pub(super) async fn said_and_free_again(emu: &Emulator, bot: &Bot) {
    let posted = emu.messages_in(INCIDENT_CHANNEL_ID);
    assert!(posted.iter().any(|m| m["content"]
        .as_str()
        .unwrap_or("")
        .starts_with("Request #1 ")));
    let sent = emu.slash(restart_slash("web", "again", bob())).await;
    let r = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    assert!(
        edited(&r).starts_with("Request #2 to restart web"),
        "{}",
        edited(&r)
    );
    bot.audit_until(|rows| {
        rows.iter()
            .any(|(a, r)| a == "execute restart" && r.contains("stopped before recording"))
    })
    .await;
}

/// Waits (30 s at most) until the alert has counted `n` kills.
pub(super) async fn wait_kills_counted(db: &tokio_postgres::Client, n: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counted: i32 = db
            .query_one("SELECT max(occurrences) FROM alerts", &[])
            .await
            .unwrap()
            .get(0);
        if counted >= n {
            break;
        }
        assert!(Instant::now() < deadline, "only {counted} kills counted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The OomKiller report is updated with the count, keeps its chart, and
/// is the only one.
pub(super) async fn one_report_with_the_count_and_its_chart(emu: &Emulator) {
    let report = emu
        .wait_until(WAIT, "the report updated with the count", |emu| {
            emu.messages_in(INCIDENT_CHANNEL_ID)
                .into_iter()
                .find(|m| m["content"].as_str().unwrap_or("").contains("OOM-killed "))
        })
        .await;
    assert_eq!(
        report["attachments"].as_array().unwrap().len(),
        1,
        "one chart, redrawn in place, never piled up: {report}"
    );
    let content = report["content"].as_str().unwrap();
    assert!(content.contains("× since "), "{content}");
    let posted = emu.messages_in(INCIDENT_CHANNEL_ID);
    let reports = posted
        .iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .unwrap_or("")
                .contains("**OomKiller**")
        })
        .count();
    assert_eq!(reports, 1, "one report: {posted:#?}");
}
