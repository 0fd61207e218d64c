//! More real Docker engines on this machine, for fleet tests: each a
//! `dockerd` of its own (socket, data root, exec root, pid file), on a
//! bridge the test creates (never `--bridge=none`, which would delete the
//! host's `docker0`) and under a cgroup parent of its own, with the test
//! workload image loaded from the default engine (no registry needed).
//! Stopped, its containers removed and its files deleted when dropped.

use super::docker_cli::try_docker_on;
use super::support::{ensure_image, IMAGE, TEST_LABEL};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A `dockerd` the test started.
pub struct ExtraEngine {
    /// `unix:///…/docker.sock`, for DOCKER_HOST.
    pub host: String,
    dir: PathBuf,
    bridge: String,
    /// Its cgroup parent's name (`ibt-eng<n>`).
    cgroup: String,
    daemon: Option<Child>,
}

impl ExtraEngine {
    /// Starts an engine and loads the workload image into it.
    pub fn start() -> ExtraEngine {
        ExtraEngine::start_with(&[])
    }

    /// As `start`, the engine also listening on TCP (loopback) with TLS
    /// client verification, as `dockerd --tlsverify`; returns it and its
    /// `tcp://` address, and leaves in `dir` the client's `ca.pem`,
    /// `cert.pem` and `key.pem` (what `docker --tlsverify` takes).
    pub fn start_tls(dir: &std::path::Path) -> (ExtraEngine, String) {
        certificates(dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let tcp = format!("tcp://127.0.0.1:{port}");
        let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
        let engine = ExtraEngine::start_with(&[
            "--host".into(),
            tcp.clone(),
            "--tlsverify".into(),
            "--tlscacert".into(),
            path("ca.pem"),
            "--tlscert".into(),
            path("server-cert.pem"),
            "--tlskey".into(),
            path("server-key.pem"),
        ]);
        (engine, tcp)
    }

    fn start_with(extra: &[String]) -> ExtraEngine {
        static N: AtomicU32 = AtomicU32::new(0);
        ensure_image();
        // Bridge names are at most 15 characters, subnets must not clash
        // with the host's: 10.201.<n>.0/24 on ibt-br<n>.
        let n = 10 + N.fetch_add(1, Ordering::Relaxed);
        let bridge = format!("ibt-br{n}");
        let dir = std::env::temp_dir().join(format!("ibt-eng-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        let _ = Command::new("ip").args(["link", "del", &bridge]).output();
        ip(&["link", "add", &bridge, "type", "bridge"]);
        ip(&["addr", "add", &format!("10.201.{n}.1/24"), "dev", &bridge]);
        ip(&["link", "set", &bridge, "up"]);
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let path = |p: &str| dir.join(p).to_string_lossy().into_owned();
        let host = format!("unix://{}", path("docker.sock"));
        let daemon = Command::new("dockerd")
            .args(["--host", &host])
            .args(["--data-root", &path("data")])
            .args(["--exec-root", &path("exec")])
            .args(["--pidfile", &path("docker.pid")])
            .args(["--config-file", &path("daemon.json")])
            .args(["--bridge", &bridge])
            .args(["--iptables=false", "--ip-masq=false"])
            .args(["--cgroup-parent", &format!("/ibt-eng{n}")])
            // vfs needs nothing of the host's storage setup.
            .args(["--storage-driver", "vfs"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        let mut engine = ExtraEngine {
            host,
            dir,
            bridge,
            cgroup: format!("ibt-eng{n}"),
            daemon: Some(daemon),
        };
        engine.wait_up();
        engine.load_image();
        engine
    }

    fn wait_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self
                .try_docker(&["version", "--format", "{{.Server.Version}}"])
                .is_ok_and(|o| o.status.success())
            {
                return;
            }
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|d| d.try_wait().ok().flatten())
            {
                panic!("dockerd exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the extra engine never answered:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn load_image(&self) {
        // `docker save | docker load`, both bounded.
        let out = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "timeout 120 docker save {IMAGE} | DOCKER_HOST='{}' timeout 120 docker load",
                    self.host
                ),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "loading {IMAGE}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The daemon's log, to explain a failure.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    pub fn try_docker(&self, args: &[&str]) -> Result<Output, String> {
        try_docker_on(Some(&self.host), args)
    }

    /// `docker <args>` on this engine; a failure fails the test.
    pub fn docker(&self, args: &[&str]) -> Output {
        let out = self.try_docker(args).unwrap_or_else(|why| panic!("{why}"));
        assert!(
            out.status.success(),
            "docker {args:?} on {}: {}",
            self.host,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts `<project>-<service>-1` holding `mb` MiB on this engine,
    /// without waiting for it; returns its name.
    fn start_container(&self, project: &str, service: &str, mb: u64) -> String {
        let name = format!("{project}-{service}-1");
        self.docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--label",
            TEST_LABEL,
            "--label",
            &format!("com.docker.compose.project={project}"),
            "--label",
            &format!("com.docker.compose.service={service}"),
            IMAGE,
            "--mb",
            &mb.to_string(),
        ]);
        name
    }

    /// Starts `<project>-<service>-1` holding `mb` MiB on this engine, and
    /// waits until the memory is resident.
    pub fn run(&self, project: &str, service: &str, mb: u64) -> String {
        let name = self.start_container(project, service, mb);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !String::from_utf8_lossy(&self.docker(&["logs", &name]).stdout).contains("ready") {
            assert!(Instant::now() < deadline, "{name} never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        name
    }

    /// Starts `n` services `svc000`… of `project` holding `mb` MiB each,
    /// a few at a time, without waiting for each to be resident.
    pub fn run_many(&self, project: &str, n: usize, mb: u64) {
        let services: Vec<String> = (0..n).map(|i| format!("svc{i:03}")).collect();
        for chunk in services.chunks(super::docker_cli::CHANGES_AT_ONCE) {
            std::thread::scope(|scope| {
                for service in chunk {
                    scope.spawn(move || self.start_container(project, service, mb));
                }
            });
        }
    }

    /// Stops the engine as a host going away would (its bot stays up).
    pub fn stop_daemon(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &d.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while d.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = d.kill();
                    let _ = d.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A throwaway CA, a server certificate for 127.0.0.1 and a client
/// certificate, made with the openssl CLI.
fn certificates(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    let steps: [&[&str]; 5] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=incident-bot test CA",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server-key.pem",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "server-cert.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "client.csr",
            "-subj",
            "/CN=incident-bot",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for ExtraEngine {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            if let Ok(out) = self.try_docker(&["ps", "-aq"]) {
                for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = self.try_docker(&["rm", "-f", id]);
                }
            }
        }
        self.stop_daemon();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        // The (now empty) cgroup parent, in every hierarchy it was made in.
        let root = std::path::Path::new("/sys/fs/cgroup");
        let _ = std::fs::remove_dir(root.join(&self.cgroup));
        for controller in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(controller.path().join(&self.cgroup));
        }
        // Mounts under the exec root go with the daemon; whatever stays
        // (a busy mount) is left to the machine's temp clean-up.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
