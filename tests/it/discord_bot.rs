//! `incident-bot serve`, the real binary with the real serenity client,
//! against the Discord emulator (Discord itself cannot be reached here) and
//! the real Docker engine.

use crate::discord::{
    GatewayDrop, Member, Recorded, Slash, GUILD_ID, INCIDENT_CHANNEL_ID, OTHER_CHANNEL_ID,
    THREAD_ID,
};
use crate::harness::*;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn registered_commands_match_the_runbooks() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("none", &[], &[]).await;
    let registered = emu.registered_commands(Some(GUILD_ID));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands");
    let runbooks = incident_bot::runbooks::load_dir(&dir).unwrap();
    assert_eq!(
        registered.len(),
        runbooks.len() + 2,
        "the runbooks, /incident and /oncall"
    );
    let incident = registered.iter().find(|c| c["name"] == "incident").unwrap();
    let subs: Vec<&str> = incident["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        subs,
        [
            "open",
            "ack",
            "resolve",
            "status",
            "list",
            "postmortem",
            "lead",
            "followup",
            "followups",
            "severity"
        ]
    );
    // `followup` is a subcommand group: add, done, list.
    let group = incident["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "followup")
        .unwrap();
    assert_eq!(group["type"], 2, "a subcommand group");
    let leaves: Vec<&str> = group["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(leaves, ["add", "done", "list"]);
    for (_, rb) in &runbooks {
        let spec = incident_bot::core::commands::spec(rb, false);
        let cmd = registered
            .iter()
            .find(|c| c["name"] == spec.name.as_str())
            .unwrap_or_else(|| panic!("/{} registered: {registered:#?}", spec.name));
        let subs = cmd["options"].as_array().unwrap();
        let names: Vec<&str> = subs.iter().map(|s| s["name"].as_str().unwrap()).collect();
        let expected: Vec<&str> = spec.subcommands.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, expected);
        for (sub, want) in subs.iter().zip(&spec.subcommands) {
            assert_eq!(sub["type"], 1, "a subcommand");
            let opts: Vec<(&str, bool)> = sub["options"]
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(|o| (o["name"].as_str().unwrap(), o["required"] == true))
                        .collect()
                })
                .unwrap_or_default();
            let want_opts: Vec<(&str, bool)> = want
                .options
                .iter()
                .map(|o| (o.name.as_str(), o.required))
                .collect();
            assert_eq!(opts, want_opts, "options of /{} {}", spec.name, want.name);
        }
    }
    let leaks = &registered[0]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "leaks")
        .unwrap()["options"][0];
    assert_eq!(leaks["name"], "service");
    assert_eq!(leaks["autocomplete"], true, "services autocomplete");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_in_the_incident_channel_is_deferred_then_edited_with_embed_and_chart() {
    let TestApp {
        project: p,
        emu,
        bot: _bot,
    } = spawn_app(
        "chat-status",
        &[("web", 520, None), ("celery_worker", 24, Some(256))],
        &[],
    )
    .await;
    let web = p.container("web");

    let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
    let ack = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    assert!(
        ack.at.duration_since(sent.at) < Duration::from_secs(3),
        "acknowledged within Discord's deadline"
    );
    assert_eq!(ack.json.as_ref().unwrap()["type"], 5, "deferred");
    assert_eq!(flags(&ack) & EPHEMERAL, 0, "public in the incident channel");

    let edit = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let body = edit.json.as_ref().expect("payload_json");
    let embed = &body["embeds"][0];
    assert!(
        embed["title"]
            .as_str()
            .unwrap()
            .contains("Check current memory usage"),
        "{embed:#}"
    );
    assert_eq!(embed["color"], 0xE7_4C_3C, "red: the verdict is FAIL");
    assert!(
        embed["description"].as_str().unwrap().contains(&web),
        "{embed:#}"
    );
    let fields = embed["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("field {name} in {embed:#}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        field("Expected"),
        "Total memory < 80%, individual processes < 500MB"
    );
    assert!(field("Verdict").contains("Memory leak or excessive memory usage"));
    assert!(field("Offenders").contains(&web));
    assert_eq!(embed["image"]["url"], "attachment://memory.png");
    assert_png(&edit);
    // Nothing was posted anywhere else.
    assert!(emu.messages_in(INCIDENT_CHANNEL_ID).is_empty());
    assert!(emu.messages_in(OTHER_CHANNEL_ID).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn status_elsewhere_posts_to_the_incident_channel_and_says_where() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("chat-elsewhere", &[("web", 16, None)], &[]).await;

    let sent = emu.slash(status_in(OTHER_CHANNEL_ID, responder())).await;
    let ack = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    assert_eq!(ack.json.as_ref().unwrap()["type"], 5);
    assert_eq!(flags(&ack) & EPHEMERAL, EPHEMERAL, "the pointer is private");

    let post = emu
        .wait_for(WAIT, |r| {
            r.method == "POST"
                && r.path
                    .ends_with(&format!("/channels/{INCIDENT_CHANNEL_ID}/messages"))
        })
        .await;
    let body = post.json.as_ref().unwrap();
    assert_eq!(body["embeds"][0]["color"], 0x2E_CC_71, "green: PASS");
    assert!(body["content"].as_str().unwrap().contains("<@9001>"));
    assert_eq!(
        body["allowed_mentions"]["parse"],
        json!([]),
        "names the requester without pinging"
    );
    assert_png(&post);
    let edit = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let content = edit.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains(&format!("<#{INCIDENT_CHANNEL_ID}>")),
        "{content}"
    );
    assert_eq!(emu.messages_in(INCIDENT_CHANNEL_ID).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_in_a_thread_of_the_incident_channel_replies_in_place() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("chat-thread", &[("web", 16, None)], &[]).await;
    let sent = emu.slash(status_in(THREAD_ID, responder())).await;
    let ack = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    assert_eq!(flags(&ack) & EPHEMERAL, 0);
    let edit = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    assert!(edit.json.as_ref().unwrap()["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .contains("Check current memory usage"));
    assert_png(&edit);
    assert!(emu.messages_in(INCIDENT_CHANNEL_ID).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_without_a_responder_role_is_refused_and_nothing_runs() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("none", &[], &[]).await;
    let outsider = Member {
        user_id: 9002,
        name: "mallory".into(),
        roles: vec![OTHER_ROLE],
    };
    let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, outsider)).await;
    let reply = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    let body = reply.json.as_ref().unwrap();
    assert_eq!(body["type"], 4, "an immediate message, not a deferral");
    assert_eq!(flags(&reply) & EPHEMERAL, EPHEMERAL);
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("You need a responder role to run /mem status"),
        "{body:#}"
    );
    // A responder's command afterwards is handled, so by the time its
    // acknowledgement arrives the refused one has long finished.
    let sent2 = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
    emu.wait_for(WAIT, |r| is_callback(r, sent2.interaction_id))
        .await;
    assert!(
        !emu.requests()
            .iter()
            .any(|r| is_original_edit(r, &sent.token)),
        "nothing followed the refusal"
    );
    // The handler never got past the role check for Mallory: no command
    // was started for her (the log names every command it starts).
    let log = std::fs::read_to_string(&bot.log).unwrap();
    assert!(log.contains("refused user=9002"), "{log}");
    assert!(!log.contains(": command user=9002"), "{log}");
    assert!(
        log.contains(": command user=9001"),
        "the responder's did start: {log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_docker_hung_the_reply_still_comes_in_time_and_says_why() {
    let docker = HungDocker::start();
    let endpoint = docker.endpoint();
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app(
        "none",
        &[],
        &[
            ("DOCKER_HOST", endpoint.as_str()),
            ("INCIDENT_BOT_DOCKER__TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
    let ack = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    assert!(ack.at.duration_since(sent.at) < Duration::from_secs(3));
    let edit = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let content = edit.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains("Could not run /mem status: the Docker engine did not answer within 1s."),
        "{content}"
    );
    assert!(
        !content.contains(&endpoint),
        "the channel is not told the engine's address"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_the_gateway_drops_the_bot_reconnects_and_answers() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("chat-reconnect", &[("web", 16, None)], &[]).await;
    for (i, how) in [GatewayDrop::Close4000, GatewayDrop::Tcp]
        .into_iter()
        .enumerate()
    {
        emu.drop_gateway(how).await;
        let deadline = Instant::now() + WAIT;
        while emu.resume_count() + emu.identify_count() < i + 2 {
            assert!(Instant::now() < deadline, "the bot never came back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
        let edit = emu
            .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
            .await;
        assert!(edit.json.as_ref().unwrap()["embeds"][0].is_object());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_options_autocomplete_from_running_containers() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app(
        "chat-autocomplete",
        &[
            ("web", 8, None),
            ("celery_worker", 8, None),
            ("postgres", 8, None),
        ],
        &[],
    )
    .await;
    let choices = |r: &Recorded| -> Vec<String> {
        r.json.as_ref().unwrap()["data"]["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].as_str().unwrap().to_string())
            .collect()
    };
    let leaks = Slash {
        command: "mem".into(),
        subcommand: Some("leaks".into()),
        options: vec![("service".into(), json!(""))],
        member: responder(),
        channel_id: INCIDENT_CHANNEL_ID,
    };
    let sent = emu.autocomplete(leaks, "service").await;
    let r = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    assert_eq!(r.json.as_ref().unwrap()["type"], 8);
    assert_eq!(choices(&r), ["celery_worker", "postgres", "web"]);
    // Restart offers only what the runbook allows, filtered by what was typed.
    let restart = Slash {
        command: "mem".into(),
        subcommand: Some("restart".into()),
        options: vec![("service".into(), json!("w"))],
        member: responder(),
        channel_id: INCIDENT_CHANNEL_ID,
    };
    let sent = emu.autocomplete(restart, "service").await;
    let r = emu
        .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
        .await;
    assert_eq!(choices(&r), ["celery_worker", "web"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_one_private_sentence() {
    let TestApp {
        project: _p,
        emu,
        bot: _bot,
    } = spawn_app("none", &[], &[]).await;
    for (sub, options, expected) in [
        (
            "restart",
            vec![
                ("service".to_string(), json!("web; rm -rf /")),
                ("reason".to_string(), json!("leak")),
            ],
            "That input was not accepted: 'web; rm -rf /' is not a service name.",
        ),
        (
            "restart-workers",
            vec![
                ("concurrency".to_string(), json!(99)),
                ("reason".to_string(), json!("leak")),
            ],
            "That input was not accepted: concurrency must be between 1 and 16, not 99.",
        ),
    ] {
        let sent = emu.slash(mem_slash(sub, options)).await;
        let reply = emu
            .wait_for(WAIT, |r| is_callback(r, sent.interaction_id))
            .await;
        assert_eq!(flags(&reply) & EPHEMERAL, EPHEMERAL);
        let content = reply.json.as_ref().unwrap()["data"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(content.contains(expected), "{content}");
    }
    assert!(emu.messages_in(INCIDENT_CHANNEL_ID).is_empty());
}

#[test]
fn serve_without_a_token_fails_at_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_incident-bot"))
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DISCORD_TOKEN")
        .env_remove("DISCORD_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DISCORD_TOKEN is missing or empty"), "{err}");
}

/// The token never reaches the log, even at the most verbose level.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_never_logged() {
    let TestApp {
        project: _p,
        emu,
        bot,
    } = spawn_app("none", &[], &[("RUST_LOG", "trace")]).await;
    let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
    emu.wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let log = std::fs::read_to_string(&bot.log).unwrap();
    assert!(
        log.contains("slash commands registered"),
        "the log is written"
    );
    assert!(
        !log.contains("emulated.bot.token"),
        "token leaked into the log"
    );
}

/// The channel learns that the watched project has no containers, not what
/// else runs on the host.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_project_is_reported_without_naming_other_projects() {
    let mut other = Project::new("chat-neighbour");
    other.start("web", 8, None);
    let TestApp {
        project: p,
        emu,
        bot: _bot,
    } = spawn_app("none", &[], &[]).await;
    let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
    let edit = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let content = edit.json.as_ref().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains(&format!(
            "no running containers in Compose project '{}'",
            p.name
        )),
        "{content}"
    );
    assert!(!content.contains(&other.name), "{content}");
}
