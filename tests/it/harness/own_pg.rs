//! A PostgreSQL server of a test's own, for faults no shared server may
//! suffer: stopped and started again under a running bot. Same binaries as
//! `tests/run` uses; as the `postgres` user when the tests run as root
//! (PostgreSQL refuses to run as root).

use std::path::PathBuf;
use std::process::Command;

pub struct OwnPostgres {
    dir: PathBuf,
    bindir: PathBuf,
    pub port: u16,
}

fn as_pg(cmd: &str) -> Command {
    let root = unsafe { libc_geteuid() } == 0;
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", cmd]);
        c
    } else {
        Command::new(cmd)
    }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

impl OwnPostgres {
    /// initdb and start on a free loopback port.
    pub fn start() -> OwnPostgres {
        let bindir = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").exists())
            .expect("an initdb");
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ib-own-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if unsafe { libc_geteuid() } == 0 {
            let ok = Command::new("chown")
                .args(["postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let out = as_pg(bindir.join("initdb").to_str().unwrap())
            .args(["-D", dir.join("data").to_str().unwrap()])
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = OwnPostgres { dir, bindir, port };
        pg.up();
        pg
    }

    /// A URL of its `postgres` database, with `password` (trust
    /// authentication ignores it; it is there to be kept out of logs).
    pub fn url(&self, password: &str) -> String {
        format!(
            "postgres://postgres:{password}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    fn ctl(&self, args: &[&str]) {
        let out = as_pg(self.bindir.join("pg_ctl").to_str().unwrap())
            .args(["-D", self.dir.join("data").to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        self.ctl(&["-l", log.to_str().unwrap(), "-w", "-o", &opts, "start"]);
    }

    /// Stops the server as an operator would (fast shutdown: sessions are
    /// cut, the port closes).
    pub fn down(&self) {
        self.ctl(&["-m", "fast", "-w", "stop"]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = as_pg(self.bindir.join("pg_ctl").to_str().unwrap())
            .args(["-D", self.dir.join("data").to_str().unwrap()])
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
