//! The bot under test: the real `incident-bot serve` process, pointed at the
//! Discord emulator and a database of its own, plus helpers to read what it
//! sent.

use crate::discord::{Emulator, Member, Recorded, Slash, GUILD_ID, INCIDENT_CHANNEL_ID};
use crate::harness::TestDb;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const RESPONDER_ROLE: u64 = 7001;
pub const OTHER_ROLE: u64 = 7002;
pub const APPROVER_ROLE: u64 = 7003;
pub const ON_CALL_ROLE: u64 = 7004;
/// Seeded on the roster as Senior DevOps Engineer and DevOps Lead.
pub const SENIOR: u64 = 8001;
pub const LEAD: u64 = 8002;
pub const WAIT: Duration = Duration::from_secs(20);

/// The bot process, killed when dropped; its log is printed if the test
/// fails, to explain what it did.
pub struct Bot {
    child: Child,
    pub log: std::path::PathBuf,
    /// The bot's own database, when it was given one.
    pub db: Option<TestDb>,
}

impl Bot {
    /// A bot with a fresh database, started and ready (commands registered,
    /// migrations applied).
    pub async fn start(emu: &Emulator, project: &str, env: &[(&str, &str)]) -> Bot {
        let db = TestDb::create().await;
        let url = db.url.clone();
        let mut bot = Bot::start_on(emu, project, env, &url).await;
        bot.wait_log("database ready").await;
        bot.db = Some(db);
        bot
    }

    /// A bot on the database at `url` (which may be unreachable); returns
    /// once its commands are registered.
    pub async fn start_on(
        emu: &Emulator,
        project: &str,
        env: &[(&str, &str)],
        database_url: &str,
    ) -> Bot {
        let bot = Bot::spawn_on(emu, project, env, database_url);
        emu.wait_ready(WAIT).await;
        emu.wait_for(WAIT, |r| r.method == "PUT" && r.path.ends_with("/commands"))
            .await;
        // The emulator may still remember an earlier bot's session and
        // commands (a restart test): wait for this process's own READY.
        bot.wait_log("slash commands registered").await;
        bot
    }
}

impl Bot {
    /// A bot on the database at `url`, returned as soon as it runs: one
    /// of a fleet may stand by without a gateway session of its own.
    pub fn spawn_on(
        emu: &Emulator,
        project: &str,
        env: &[(&str, &str)],
        database_url: &str,
    ) -> Bot {
        let log = fresh_log_path();
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = serve_command(emu, project, database_url);
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Bot {
            child: cmd.spawn().expect("incident-bot serve starts"),
            log,
            db: None,
        }
    }

    /// Whether the bot's log contains `needle` now.
    pub fn logged(&self, needle: &str) -> bool {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .contains(needle)
    }
}

/// A log file of its own for each bot process of the test run.
fn fresh_log_path() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "ib-serve-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

/// `incident-bot serve` on the emulator, project and database, with the
/// settings every bot test shares (a test's own come on top).
fn serve_command(emu: &Emulator, project: &str, database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident-bot"));
    // The developer's own settings must not leak into the bot under test.
    for (k, _) in std::env::vars() {
        if k.starts_with("INCIDENT_BOT_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("serve")
        .env("DATABASE_URL", database_url)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISCORD_TOKEN", "emulated.bot.token")
        .env("DISCORD_API_BASE", emu.api_base())
        .env("INCIDENT_BOT_DISCORD__GUILD_ID", GUILD_ID.to_string())
        .env(
            "INCIDENT_BOT_DISCORD__INCIDENT_CHANNEL_ID",
            INCIDENT_CHANNEL_ID.to_string(),
        )
        .env(
            "INCIDENT_BOT_DISCORD__RESPONDER_ROLE_IDS",
            format!("[{RESPONDER_ROLE}]"),
        )
        .env("INCIDENT_BOT_WATCH__PROJECT", project)
        .env(
            "INCIDENT_BOT_DISCORD__APPROVER_ROLE_IDS",
            format!("[{APPROVER_ROLE}]"),
        )
        // Restarts of the test workload settle at once; expiry is checked
        // often so tests need not wait.
        .env("INCIDENT_BOT_APPROVALS__SETTLE_SECS", "1")
        .env("INCIDENT_BOT_APPROVALS__EXPIRY_CHECK_SECS", "1")
        // The roster: a senior engineer and a lead; on-call falls back
        // to a role.
        .env(
            "INCIDENT_BOT_DISCORD__ROSTER__SENIOR_DEVOPS_ENGINEER",
            SENIOR.to_string(),
        )
        .env(
            "INCIDENT_BOT_DISCORD__ROSTER__DEVOPS_LEAD",
            LEAD.to_string(),
        )
        .env(
            "INCIDENT_BOT_DISCORD__ROSTER_ROLE_IDS__ON_CALL",
            ON_CALL_ROLE.to_string(),
        )
        .env("INCIDENT_BOT_ESCALATION__OOM_GRACE_SECS", "1")
        // Any free port: tests run in parallel (see `http_base`).
        .env("INCIDENT_BOT_HTTP__LISTEN", "127.0.0.1:0")
        // History a point a second, recorded every second, so trends
        // need seconds of samples, not minutes.
        .env("INCIDENT_BOT_WATCH__HISTORY_STEP_SECS", "1")
        .env("INCIDENT_BOT_WATCH__PERSIST_SECS", "1")
        .env("RUST_LOG", "info");
    cmd
}

impl Bot {
    /// The bot's process id (to read its memory and CPU from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT` of the bot's HTTP endpoints, read from its
    /// log (it listens on a free port).
    pub async fn http_base(&self) -> String {
        self.wait_log("HTTP endpoints listening").await;
        let log = std::fs::read_to_string(&self.log).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("HTTP endpoints listening"))
            .unwrap();
        let addr = line
            .split("listen=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        format!("http://{addr}")
    }

    /// Waits until at least `containers` containers have `n` points of
    /// recorded memory history each (the test bot records one a second).
    pub async fn wait_history(&self, containers: usize, n: i64) {
        let db = self
            .db
            .as_ref()
            .expect("a bot with its database")
            .client()
            .await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let counts: Vec<i64> = db
                .query(
                    "SELECT count(*) FROM memory_samples GROUP BY container_id",
                    &[],
                )
                .await
                .map(|rows| rows.iter().map(|r| r.get(0)).collect())
                .unwrap_or_default();
            if counts.iter().filter(|c| **c >= n).count() >= containers {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "history never reached {n} points: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The thread of the (first) incident that has one, once it exists.
    pub async fn wait_incident_thread(&self) -> u64 {
        let db = self
            .db
            .as_ref()
            .expect("a bot with its database")
            .client()
            .await;
        let deadline = Instant::now() + WAIT;
        loop {
            let row = db
                .query_opt(
                    "SELECT thread_id FROM incidents WHERE thread_id IS NOT NULL ORDER BY id LIMIT 1",
                    &[],
                )
                .await
                .unwrap();
            if let Some(r) = row {
                return r.get::<_, i64>(0) as u64;
            }
            assert!(Instant::now() < deadline, "no incident thread");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the bot's log contains `needle`.
    pub async fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .contains(needle)
        {
            assert!(Instant::now() < deadline, "the bot never logged {needle:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The audit log as (action, result), once `done` holds for it: rows
    /// are written after the replies a test waits for, so it waits for
    /// them too.
    pub async fn audit_until(
        &self,
        done: impl Fn(&[(String, String)]) -> bool,
    ) -> Vec<(String, String)> {
        let db = self
            .db
            .as_ref()
            .expect("the bot's own database")
            .client()
            .await;
        let deadline = Instant::now() + WAIT;
        loop {
            let rows: Vec<(String, String)> = db
                .query("SELECT action, result FROM audit_log ORDER BY at, id", &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            if done(&rows) {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "audit log never got there: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the bot (as a crash would: no goodbye).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- bot log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

pub fn responder() -> Member {
    Member {
        user_id: 9001,
        name: "alice".into(),
        roles: vec![RESPONDER_ROLE],
    }
}

pub fn status_in(channel_id: u64, member: Member) -> Slash {
    Slash {
        command: "mem".into(),
        subcommand: Some("status".into()),
        options: vec![],
        member,
        channel_id,
    }
}

pub fn is_callback(r: &Recorded, id: u64) -> bool {
    r.method == "POST"
        && r.path.contains(&format!("/interactions/{id}/"))
        && r.path.ends_with("/callback")
}

pub fn is_original_edit(r: &Recorded, token: &str) -> bool {
    r.method == "PATCH" && r.path.contains(token) && r.path.ends_with("/messages/@original")
}

pub fn flags(r: &Recorded) -> u64 {
    r.json.as_ref().unwrap()["data"]["flags"]
        .as_u64()
        .unwrap_or(0)
}

pub const EPHEMERAL: u64 = 1 << 6;

/// The PNG attached to a request decodes to a real image.
pub fn assert_png(r: &Recorded) -> (u32, u32) {
    let (name, bytes) = r.files.first().expect("a file is attached");
    assert!(name.ends_with(".png"), "{name}");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().expect("the chart decodes as PNG");
    let info = reader.info();
    assert!(
        info.width >= 320 && info.height >= 200,
        "{}x{}",
        info.width,
        info.height
    );
    (info.width, info.height)
}
