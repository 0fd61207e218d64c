//! The container image, run as users run it (called by `tests/image` after
//! it built the image named by `IMAGE`; ignored in the ordinary suite,
//! which builds no image): `serve` in the image against the Discord
//! emulator and a throwaway PostgreSQL, its health check turning healthy,
//! `/mem status` answered from inside the container through the mounted
//! socket and `group_add`, `/metrics` read from another container; and the
//! compose example, `deploy/compose.yml`, brought up the same way.
//!
//! The emulator speaks plain http on loopback, and the bot sends its token
//! over plain http only to loopback: so the bot's container shares the
//! host's network here (the one change made to the compose example), where
//! users' bots reach Discord over https from the compose network.

use crate::discord::{Emulator, GUILD_ID, INCIDENT_CHANNEL_ID};
use crate::harness::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn image() -> String {
    std::env::var("IMAGE").expect("IMAGE names the image to test (tests/image sets it)")
}

fn sock_gid() -> String {
    std::env::var("DOCKER_SOCK_GID").expect("DOCKER_SOCK_GID (tests/image sets it)")
}

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg("docker")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until container `name`'s health check says healthy; returns how
/// long it took.
async fn wait_healthy(name: &str) -> Duration {
    let start = Instant::now();
    loop {
        let (_, state) = docker(&["inspect", "--format", "{{.State.Health.Status}}", name]);
        if state.trim() == "healthy" {
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(90) {
            let (_, logs) = docker(&["logs", "--tail", "50", name]);
            panic!("{name} is {state:?}, not healthy; its log:\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `/mem status` in the incident channel, answered with a report that
/// names `container`.
async fn status_names(emu: &Emulator, container: &str) {
    let sent = emu.slash(status_in(INCIDENT_CHANNEL_ID, responder())).await;
    let edit = emu
        .wait_for(WAIT, |r| is_original_edit(r, &sent.token))
        .await;
    let body = edit.json.as_ref().unwrap().to_string();
    assert!(
        body.contains(container),
        "the report names {container}: {body}"
    );
    assert!(
        body.contains("live data from the kernel's cgroup files"),
        "memory from the mounted cgroup files: {body}"
    );
}

/// `/metrics` of the bot at `port`, read by another container (the image's
/// own `health --print` as the client).
fn metrics_from_another_container(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let (ok, body) = docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "incident-bot",
        &image(),
        "health",
        "--print",
        &url,
    ]);
    assert!(ok, "GET {url} from a container: {body}");
    body
}

/// Removes container `name` when dropped.
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.0]);
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the image: run by tests/image"]
async fn the_image_serves_discord_and_turns_healthy() {
    let mut p = Project::new("image-serve");
    let web = p.start("web", 16, None);
    let emu = Emulator::start().await;
    let db = TestDb::create().await;
    let port = free_port();
    let name = format!("{}-bot", p.name);
    let env = [
        "DISCORD_TOKEN=emulated.bot.token".to_string(),
        format!("DISCORD_API_BASE={}", emu.api_base()),
        format!("DATABASE_URL={}", db.url),
        format!("INCIDENT_BOT_DISCORD__GUILD_ID={GUILD_ID}"),
        format!("INCIDENT_BOT_DISCORD__INCIDENT_CHANNEL_ID={INCIDENT_CHANNEL_ID}"),
        format!("INCIDENT_BOT_DISCORD__RESPONDER_ROLE_IDS=[{RESPONDER_ROLE}]"),
        format!("INCIDENT_BOT_WATCH__PROJECT={}", p.name),
        format!("INCIDENT_BOT_HTTP__LISTEN=127.0.0.1:{port}"),
    ];
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "--label",
        TEST_LABEL,
        "--group-add",
        "",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        "/sys/fs/cgroup:/host/sys/fs/cgroup:ro",
        // The image's own check, looked at often so the test need not wait
        // for its 30 s interval.
        "--health-interval",
        "1s",
    ];
    let gid = sock_gid();
    args[9] = &gid;
    for e in &env {
        args.extend(["-e", e.as_str()]);
    }
    let image = image();
    args.extend([image.as_str(), "serve"]);
    let (ok, out) = docker(&args);
    assert!(ok, "docker run: {out}");
    let _bot = Removed(name.clone());

    let healthy = wait_healthy(&name).await;
    println!(
        "image: serve healthy {:.1} s after docker run",
        healthy.as_secs_f64()
    );
    emu.wait_ready(WAIT).await;
    status_names(&emu, &web).await;
    let metrics = metrics_from_another_container(port);
    assert!(metrics.contains("incident_bot_database_up 1"), "{metrics}");
    let (_, user) = docker(&["exec", &name, "id", "-u"]);
    assert_eq!(user.trim(), "10001", "runs as its own user");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the image: run by tests/image"]
async fn the_compose_example_comes_up_and_answers() {
    let mut p = Project::new("image-compose");
    let web = p.start("web", 16, None);
    let emu = Emulator::start().await;
    let db = TestDb::create().await;
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("{}-deploy", p.name));
    std::fs::create_dir_all(&dir).unwrap();
    // The example as shipped, but on the host's network (see the module
    // doc) and with the bot's database given as a host.
    let shipped = std::fs::read_to_string("deploy/compose.yml").unwrap();
    let compose = shipped.replace("    networks: [bot, default]\n", "    network_mode: host\n");
    assert_ne!(
        compose, shipped,
        "the example's bot service attaches its networks"
    );
    std::fs::write(dir.join("compose.yml"), compose).unwrap();
    let db_host = db.url.split('@').nth(1).unwrap().split('/').next().unwrap();
    // The example's URL names user and database incident_bot (the
    // throwaway server trusts loopback, so the password is not checked).
    let admin = db.client().await;
    admin
        .batch_execute("DO $$ BEGIN CREATE ROLE incident_bot LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        .await
        .unwrap();
    let _ = admin
        .batch_execute("DROP DATABASE IF EXISTS incident_bot WITH (FORCE)")
        .await;
    admin
        .batch_execute("CREATE DATABASE incident_bot OWNER incident_bot")
        .await
        .unwrap();
    let files = [
        ("discord_token", "emulated.bot.token".to_string()),
        ("alertmanager_token", "compose-am-token-0123456789".to_string()),
        ("app_database_url", db.url.clone()),
        (
            "site.toml",
            format!(
                "[discord]\nguild_id = {GUILD_ID}\nincident_channel_id = {INCIDENT_CHANNEL_ID}\nresponder_role_ids = [{RESPONDER_ROLE}]\n[http]\nlisten = \"127.0.0.1:{port}\"\n"
            ),
        ),
        (
            ".env",
            format!(
                "WATCHED_PROJECT={}\nBOT_DB_PASSWORD=unused\nBOT_DB_HOST={db_host}\nDOCKER_GID={}\nINCIDENT_BOT_IMAGE={}\nDISCORD_API_BASE={}\n",
                p.name,
                sock_gid(),
                image(),
                emu.api_base()
            ),
        ),
    ];
    for (f, text) in &files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    let compose = |args: &[&str]| {
        let out = Command::new("timeout")
            .args(["180", "docker-compose", "--project-directory"])
            .arg(&dir)
            .args(["-p", &p.name, "-f"])
            .arg(dir.join("compose.yml"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out) = compose(&["up", "-d", "--no-build", "--no-deps", "incident-bot"]);
    assert!(ok, "docker-compose up: {out}");
    let name = format!("{}_incident-bot_1", p.name);
    let _down = Removed(name.clone());
    wait_healthy(&name).await;
    emu.wait_ready(WAIT).await;
    status_names(&emu, &web).await;
    compose(&["down", "--remove-orphans"]);
    let _ = std::fs::remove_dir_all(&dir);
}
