//! Checks of `hardening` too long to sit in its tests: each is one phase
//! of a test there.

use crate::discord::{Click, Emulator};
use crate::harness::*;
use serde_json::Value;

/// A custom id with a NUL byte, clicked on message `first`: refused, and
/// audited whatever it holds (the forged click before it too).
pub(super) async fn a_nul_in_a_custom_id_is_refused_and_audited(
    emu: &Emulator,
    bot: &Bot,
    db: &tokio_postgres::Client,
    first: u64,
) {
    let sent = emu
        .click_raw(Click::button(first, "approval:1\u{0}:approve", bob()))
        .await;
    acked(emu, &sent).await;
    assert!(said(emu, &sent)
        .await
        .contains("does not belong to any request"));
    let rows = bot
        .audit_until(|rows| {
            rows.iter()
                .any(|(a, r)| a == "approve" && r.contains("does not belong to request #2"))
                && rows
                    .iter()
                    .any(|(a, r)| a == "button" && r.contains("unknown button id"))
        })
        .await;
    assert!(
        !rows.iter().any(|(_, r)| r.contains("db error")),
        "{rows:#?}"
    );
    let detail: Value = db
        .query_one(
            "SELECT detail FROM audit_log WHERE action = 'button' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        detail["custom_id"], "approval:1\\0:approve",
        "the NUL, escaped"
    );
}

/// Of every request the bot made, only the escalation would notify anyone
/// on Discord: exactly its target, the on-call role.
pub(super) fn only_the_escalation_notifies(emu: &Emulator) {
    let notifying = emu.notifications();
    assert_eq!(
        notifying.len(),
        1,
        "only the escalation notifies: {notifying:#?}"
    );
    let (r, who) = &notifying[0];
    assert!(r.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .starts_with("**Escalation**"));
    assert_eq!(
        (who.everyone, who.users.clone(), who.roles.clone()),
        (false, vec![], vec![ON_CALL_ROLE]),
        "{who:?}"
    );
}
