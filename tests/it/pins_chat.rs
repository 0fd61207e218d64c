//! The timeline from the thread: a 📌 reaction (dispatched by the emulator
//! only to a bot that asked for the reactions intent) on a message of an
//! incident's thread adds it to the timeline and the postmortem, once.

use crate::discord::{Emulator, OTHER_CHANNEL_ID};
use crate::escalation_chat::{run, slash};
use crate::harness::*;
use serde_json::json;
use std::time::{Duration, Instant};

async fn pinned_entries(db: &tokio_postgres::Client) -> Vec<(String, String, Option<String>)> {
    db.query(
        "SELECT actor, summary, link FROM timeline WHERE kind = 'pinned' ORDER BY id",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pin_reaction_adds_the_message_to_the_timeline_and_the_postmortem_once() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("pins", &[], &[]).await;
    run(
        &emu,
        slash(
            "incident",
            "open",
            crate::discord::INCIDENT_CHANNEL_ID,
            &[("title", json!("pool"))],
        ),
    )
    .await;
    let thread = bot.wait_incident_thread().await;
    let bob = bob();
    let said = emu.user_message(
        thread,
        &bob,
        "pg_stat_activity shows 98 idle in transaction",
    );
    assert!(
        emu.react(thread, said, &bob, "📌"),
        "the bot asked for reactions"
    );
    let db = bot.db.as_ref().unwrap().client().await;
    let deadline = Instant::now() + WAIT;
    let entries = loop {
        let e = pinned_entries(&db).await;
        if !e.is_empty() {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "the 📌'd message never reached the timeline"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (actor, summary, link) = &entries[0];
    assert_eq!(actor, "bob (<@9003>)");
    assert!(
        summary.starts_with("pg_stat_activity shows 98 idle in transaction (📌 by <@9003>)"),
        "{summary}"
    );
    assert!(
        link.as_deref()
            .unwrap()
            .ends_with(&format!("/{thread}/{said}")),
        "{link:?}"
    );

    // Again, another emoji, elsewhere: nothing more.
    emu.react(thread, said, &responder(), "📌");
    emu.react(thread, said, &bob, "👍");
    let elsewhere = emu.user_message(OTHER_CHANNEL_ID, &bob, "lunch?");
    emu.react(OTHER_CHANNEL_ID, elsewhere, &bob, "📌");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pinned_entries(&db).await.len(), 1, "one entry");

    let md = postmortem(&emu, thread).await;
    assert!(
        md.contains("pg_stat_activity shows 98 idle in transaction"),
        "{md}"
    );
}

async fn postmortem(emu: &Emulator, thread: u64) -> String {
    let sent = emu
        .slash(slash("incident", "postmortem", thread, &[]))
        .await;
    let r = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    String::from_utf8(r.files.first().expect("the postmortem file").1.clone()).unwrap()
}
