//! Follow-ups through the emulator: resolving offers the runbook's
//! prevention items; `/incident followup add|done|list` (a subcommand
//! group) keeps them with an owner and a due date; `/incident followups`
//! shows the open ones of every incident; the postmortem lists them.

use crate::discord::INCIDENT_CHANNEL_ID;
use crate::escalation_chat::{run, slash};
use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn follow_ups_are_offered_kept_listed_and_in_the_postmortem() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("followups", &[], &[]).await;
    let said = run(
        &emu,
        slash(
            "incident",
            "open",
            INCIDENT_CHANNEL_ID,
            &[("title", json!("web leaks"))],
        ),
    )
    .await;
    assert!(said.starts_with("Opened incident #1"), "{said}");
    let thread = bot.wait_incident_thread().await;
    let said = run(
        &emu,
        slash(
            "incident",
            "resolve",
            thread,
            &[("summary", json!("restarted web"))],
        ),
    )
    .await;
    assert!(
        said.contains("Follow-ups from the runbook's prevention list")
            && said.contains("• Set up memory monitoring and alerts"),
        "{said}"
    );

    let add =
        |options: &[(&str, serde_json::Value)]| slash("incident", "followup add", thread, options);
    let said = run(
        &emu,
        add(&[
            ("item", json!("Set up memory monitoring and alerts")),
            ("owner", json!("5550009")),
        ]),
    )
    .await;
    assert!(
        said.starts_with("Follow-up #1 of incident #1: Set up memory monitoring and alerts (owner <@5550009>, due "),
        "{said}"
    );
    let said = run(
        &emu,
        add(&[
            ("text", json!("Paginate the clinician export")),
            ("due_days", json!(3)),
        ]),
    )
    .await;
    assert!(
        said.starts_with("Follow-up #2 of incident #1: Paginate the clinician export (owner <@"),
        "{said}"
    );
    let said = run(&emu, add(&[])).await;
    assert!(said.contains("Give the follow-up"), "{said}");

    let listed = run(&emu, slash("incident", "followup list", thread, &[])).await;
    assert!(
        listed.contains("#1 · Set up memory") && listed.contains("#2 · Paginate"),
        "{listed}"
    );
    let said = run(
        &emu,
        slash("incident", "followup done", thread, &[("id", json!(1))]),
    )
    .await;
    assert_eq!(
        said,
        "Follow-up #1 is done: Set up memory monitoring and alerts."
    );
    let said = run(
        &emu,
        slash("incident", "followup done", thread, &[("id", json!(1))]),
    )
    .await;
    assert!(said.contains("no open follow-up #1"), "{said}");
    let open = run(
        &emu,
        slash("incident", "followups", INCIDENT_CHANNEL_ID, &[]),
    )
    .await;
    assert!(open.starts_with("Open follow-ups:"), "{open}");
    assert!(
        open.contains("#2 · Paginate") && open.contains("incident #1"),
        "{open}"
    );
    assert!(!open.contains("#1 ·"), "done ones are not open: {open}");

    let sent = emu
        .slash(slash("incident", "postmortem", thread, &[]))
        .await;
    let r = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let (_, md) = r.files.first().expect("the postmortem file").clone();
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains("## Follow-ups"), "{md}");
    assert!(
        md.contains("- [x] #1 · Set up memory monitoring and alerts"),
        "{md}"
    );
    assert!(
        md.contains("- [ ] #2 · Paginate the clinician export"),
        "{md}"
    );
}
