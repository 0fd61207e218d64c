//! `/mem profile` runs, inside the service's container, only the profiler
//! command the runbook file declares for that service; its output arrives
//! as a file, capped in size. The test runbook declares the test workload's
//! own report mode as the profiler (the image has no Python).

use crate::discord::{Emulator, Slash, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use serde_json::json;

/// A runbook directory like commands/, whose profilers run the workload's
/// report mode: plain for web, 300 KiB of it for celery_worker (over the
/// runbook's 256 KiB cap).
fn runbooks_with_test_profilers() -> std::path::PathBuf {
    let src = include_str!("../../commands/mem.toml");
    let python = r#"command = [
  "python", "-c",
  "import tracemalloc, gc; tracemalloc.start(); gc.collect(); snap = tracemalloc.take_snapshot(); [print(s) for s in snap.statistics('lineno')[:10]]",
]"#;
    assert_eq!(
        src.matches(python).count(),
        2,
        "the runbook's two profilers"
    );
    let edited = src
        .replacen(python, r#"command = ["/memhog", "--report"]"#, 1)
        .replacen(
            python,
            r#"command = ["/memhog", "--report", "--spew-kib", "300"]"#,
            1,
        );
    let dir = std::env::temp_dir().join(format!("ib-runbooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mem.toml"), edited).unwrap();
    dir
}

async fn profile(emu: &Emulator, service: &str) -> crate::discord::Recorded {
    let sent = emu
        .slash(Slash {
            command: "mem".into(),
            subcommand: Some("profile".into()),
            options: vec![("service".into(), json!(service))],
            member: responder(),
            channel_id: INCIDENT_CHANNEL_ID,
        })
        .await;
    emu.wait_for(WAIT, |r| {
        is_original_edit(r, &sent.token)
            || (is_callback(r, sent.interaction_id)
                && r.json.as_ref().is_some_and(|j| j["type"] == 4))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_declared_profiler_runs_and_its_output_arrives_as_a_file() {
    let dir = runbooks_with_test_profilers();
    let TestApp {
        project: p,
        emu,
        bot: _bot,
    } = spawn_app(
        "profile",
        &[
            ("web", 8, None),
            ("celery_worker", 8, None),
            ("beat", 8, None),
        ],
        &[("INCIDENT_BOT_RUNBOOKS__DIR", dir.to_str().unwrap())],
    )
    .await;
    let web = p.container("web");

    let edit = profile(&emu, "web").await;
    let body = edit.json.as_ref().unwrap();
    let embed = &body["embeds"][0];
    assert_eq!(embed["color"], 0x2E_CC_71, "{embed:#}");
    assert!(
        embed["description"]
            .as_str()
            .unwrap()
            .contains("$ /memhog --report"),
        "{embed:#}"
    );
    let (name, bytes) = edit
        .files
        .first()
        .unwrap_or_else(|| panic!("the output as a file: {body:#}"));
    assert_eq!(name, "profile-web.txt");
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with("memhog.rs:41: size=10240 KiB"), "{text}");
    assert!(
        embed["fields"].to_string().contains(&web),
        "the container is named: {embed:#}"
    );

    // Over the cap: cut at the runbook's 256 KiB, and said so.
    let edit = profile(&emu, "celery_worker").await;
    let embed = &edit.json.as_ref().unwrap()["embeds"][0];
    assert_eq!(embed["color"], 0xF1_C4_0F, "a warning: {embed:#}");
    assert!(
        embed["fields"].to_string().contains("cut at 256 KiB"),
        "{embed:#}"
    );
    assert_eq!(edit.files[0].1.len(), 256 * 1024);

    // A service without a declared profiler: refused before anything runs.
    let refused = profile(&emu, "beat").await;
    let data = &refused.json.as_ref().unwrap()["data"];
    assert!(
        data["content"].as_str().unwrap().contains("not accepted"),
        "{data}"
    );
    assert_eq!(data["flags"].as_u64().unwrap_or(0) & 64, 64, "private");
    let _ = std::fs::remove_dir_all(dir);
}
