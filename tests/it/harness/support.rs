//! Test support: the workload image, labelled containers that clean up after
//! themselves, running the real binary, and `docker stats` as the oracle.

use super::docker_cli::{docker, remove_containers, CHANGES_AT_ONCE};
use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const IMAGE: &str = "incident-bot-memhog:test";
/// Every container a test starts carries this label, so a crashed run's
/// leftovers can be swept with one filter.
pub const TEST_LABEL: &str = "incident-bot.test=1";
pub const MIB: u64 = 1 << 20;

/// Builds the workload image once per test run if it is missing. Panics,
/// never skips, when the engine does not answer.
pub fn ensure_image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
        assert!(
            info.status.success(),
            "no Docker engine answers: these tests need one (start dockerd). {}",
            String::from_utf8_lossy(&info.stderr)
        );
        if !docker(&["image", "inspect", IMAGE]).status.success() {
            let build = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/workload/build"))
                .output()
                .expect("tests/workload/build runs");
            assert!(
                build.status.success(),
                "building {IMAGE} failed: {}",
                String::from_utf8_lossy(&build.stderr)
            );
        }
    });
}

/// A Compose-like project of test containers, removed when dropped (also
/// when the test panics).
pub struct Project {
    pub name: String,
    containers: Vec<String>,
}

impl Project {
    /// A project name no other test (or run) uses.
    pub fn new(tag: &str) -> Project {
        static N: AtomicUsize = AtomicUsize::new(0);
        ensure_image();
        Project {
            name: format!(
                "ibt-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
            containers: Vec::new(),
        }
    }

    /// Starts `<project>-<service>-1` holding `mb` MiB, with an optional
    /// memory limit, and waits until the memory is resident.
    pub fn start(&mut self, service: &str, mb: u64, limit_mb: Option<u64>) -> String {
        self.start_with(service, mb, limit_mb, &[])
    }

    /// As `start`, with more workload arguments (`--grow-mb 8`, …).
    pub fn start_with(
        &mut self,
        service: &str,
        mb: u64,
        limit_mb: Option<u64>,
        extra: &[&str],
    ) -> String {
        self.start_full(service, mb, limit_mb, &[], extra)
    }

    /// As `start_with`, with more `docker run` options (`--restart
    /// always`, …) before the image.
    pub fn start_full(
        &mut self,
        service: &str,
        mb: u64,
        limit_mb: Option<u64>,
        docker_opts: &[&str],
        extra: &[&str],
    ) -> String {
        let name = self.container(service);
        let project_label = format!("com.docker.compose.project={}", self.name);
        let service_label = format!("com.docker.compose.service={service}");
        let mb_arg = mb.to_string();
        let limit = limit_mb.map(|l| format!("{l}m"));
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            TEST_LABEL,
            "--label",
            &project_label,
            "--label",
            &service_label,
        ];
        if let Some(l) = &limit {
            args.extend(["--memory", l.as_str(), "--memory-swap", l.as_str()]);
        }
        args.extend(docker_opts);
        args.extend([IMAGE, "--mb", &mb_arg]);
        args.extend(extra);
        self.containers.push(name.clone());
        let out = docker(&args);
        assert!(
            out.status.success(),
            "docker run {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        wait_for_log(&name, "ready");
        name
    }

    /// The name of `service`'s container, as `start` named it.
    pub fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.name)
    }

    pub fn remove(&mut self, name: &str) {
        let out = docker(&["rm", "-f", name]);
        assert!(
            out.status.success(),
            "docker rm {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.containers.retain(|c| c != name);
    }

    /// Starts `n` services `svc000`… holding `mb` MiB each, a few at a
    /// time (see `docker_cli`), without waiting for each to be resident.
    pub fn start_many(&mut self, n: usize, mb: u64) -> Vec<String> {
        let names: Vec<String> = (0..n)
            .map(|i| self.container(&format!("svc{i:03}")))
            .collect();
        // Known before they start, so a failed start still cleans up all.
        self.containers.extend(names.iter().cloned());
        let project_label = format!("com.docker.compose.project={}", self.name);
        let mb_arg = mb.to_string();
        for chunk in names.chunks(CHANGES_AT_ONCE) {
            std::thread::scope(|scope| {
                for name in chunk {
                    let service = name
                        .trim_start_matches(&format!("{}-", self.name))
                        .trim_end_matches("-1")
                        .to_string();
                    let (project_label, mb_arg) = (&project_label, &mb_arg);
                    scope.spawn(move || {
                        let service_label = format!("com.docker.compose.service={service}");
                        let out = docker(&[
                            "run",
                            "-d",
                            "--name",
                            name,
                            "--label",
                            TEST_LABEL,
                            "--label",
                            project_label,
                            "--label",
                            &service_label,
                            IMAGE,
                            "--mb",
                            mb_arg,
                        ]);
                        assert!(
                            out.status.success(),
                            "docker run {name}: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                    });
                }
            });
        }
        names
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        remove_containers(&self.containers);
    }
}

fn wait_for_log(name: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = docker(&["logs", name]);
        if String::from_utf8_lossy(&out.stdout).contains(needle) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never printed {needle:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the real binary from the crate root (where commands/ is).
/// The developer's own INCIDENT_BOT_* settings never reach the bot under
/// test, and a hung run fails the test after a minute instead of stalling
/// the suite.
pub fn bot(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incident-bot"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars() {
        if k.starts_with("INCIDENT_BOT_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("incident-bot runs");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("incident-bot runs"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("incident-bot {args:?} did not finish within 60 s");
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Memory usage per container name, from `docker stats --no-stream`: what
/// users would otherwise read, and so the oracle for our numbers.
pub fn docker_stats(names: &[&str]) -> HashMap<String, f64> {
    let mut args = vec![
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}\t{{.MemUsage}}",
    ];
    args.extend(names);
    // `docker stats` itself sometimes fails with "EOF" while other tests
    // create and remove containers; it is the oracle, so ask it again.
    let mut out = docker(&args);
    for _ in 0..3 {
        if out.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        out = docker(&args);
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (name, usage) = line.split_once('\t')?;
            let used = usage.split(" / ").next()?;
            Some((name.to_string(), parse_size(used)))
        })
        .collect()
}

/// "523.7MiB" → bytes.
pub fn parse_size(s: &str) -> f64 {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let factor = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => MIB as f64,
        "GiB" => (MIB * 1024) as f64,
        other => panic!("unit {other:?} in {s:?}"),
    };
    num.parse::<f64>().expect("a number") * factor
}

/// A fake engine socket that accepts connections and never answers: a hung
/// dockerd.
pub struct HungDocker {
    path: std::path::PathBuf,
}

impl HungDocker {
    pub fn start() -> HungDocker {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ib-hung-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            // Keep every connection open and silent.
            let open: Vec<_> = listener.incoming().flatten().collect();
            drop(open);
        });
        HungDocker { path }
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Drop for HungDocker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A fresh database of its own for one test, on the PostgreSQL that
/// `tests/run` started (TEST_DATABASE_URL, an admin URL); dropped afterwards.
pub struct TestDb {
    pub url: String,
    name: String,
    admin: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin = std::env::var("TEST_DATABASE_URL").expect(
            "TEST_DATABASE_URL is not set: run the tests with tests/run, which starts a throwaway PostgreSQL",
        );
        let name = format!(
            "ib_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("the test PostgreSQL answers");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let (base, _) = admin
            .rsplit_once('/')
            .expect("an admin URL with a database");
        TestDb {
            url: format!("{base}/{name}"),
            name,
            admin,
        }
    }

    /// A store on this database, migrated.
    pub async fn store(&self) -> incident_bot::store::Store {
        let store =
            incident_bot::store::Store::new(&incident_bot::config::Secret::new(self.url.clone()))
                .unwrap();
        store.migrate().await.expect("migrations apply");
        store
    }

    /// A plain SQL client, for assertions the store does not offer.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // use a runtime of our own on another thread.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&admin, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            })
        })
        .join();
    }
}
