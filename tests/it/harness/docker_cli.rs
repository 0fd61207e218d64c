//! The docker CLI as the tests use it: every call bounded in time, and
//! container creations and removals bounded in number across the whole
//! test process.
//!
//! Why: Debian's engine 20.10 can deadlock when many containers are
//! created and removed in parallel after heavy churn (moby#46661), and
//! then every call hangs until dockerd restarts. Bounded parallelism keeps
//! the suite away from that; the time bound turns a hang that happens
//! anyway into a failure that names the call, instead of a suite that
//! never ends.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The longest any one docker CLI call may take.
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// Container creations and removals in flight at once, across every test
/// of the process.
pub const CHANGES_AT_ONCE: usize = 4;

/// CLI subcommands that create, start, stop or remove containers.
const CHANGES: &[&str] = &["run", "create", "start", "stop", "kill", "restart", "rm"];

/// A counting semaphore over the process's container changes.
struct Changes {
    in_flight: Mutex<usize>,
    freed: Condvar,
}

static SLOTS: Changes = Changes {
    in_flight: Mutex::new(0),
    freed: Condvar::new(),
};

/// One change's place; freed when dropped.
struct Slot;

impl Slot {
    fn take() -> Slot {
        let mut n = SLOTS.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= CHANGES_AT_ONCE {
            n = SLOTS.freed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut n = SLOTS.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        SLOTS.freed.notify_one();
    }
}

/// Runs `docker <args>`; `Err` says which call did not finish within
/// [`CALL_LIMIT`]. For places that must not panic (clean-up in `Drop`).
pub fn try_docker(args: &[&str]) -> Result<Output, String> {
    try_docker_on(None, args)
}

/// As [`try_docker`], against the engine at `host` (`unix:///…`) instead
/// of the default one.
pub fn try_docker_on(host: Option<&str>, args: &[&str]) -> Result<Output, String> {
    let _slot = args
        .first()
        .is_some_and(|sub| CHANGES.contains(sub))
        .then(Slot::take);
    // coreutils' timeout: TERM at the limit, KILL ten seconds later.
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "10", &CALL_LIMIT.as_secs().to_string(), "docker"])
        .args(args);
    if let Some(host) = host {
        cmd.env("DOCKER_HOST", host);
    }
    let out = cmd
        .output()
        .expect("the docker CLI runs (are docker and coreutils installed?)");
    match out.status.code() {
        Some(124) | Some(137) | None => Err(format!(
            "`docker {}` did not finish within {} s: the engine is hung (`docker info` would hang too)",
            args.join(" "),
            CALL_LIMIT.as_secs()
        )),
        _ => Ok(out),
    }
}

/// Runs `docker <args>`; a call that does not finish in time fails the
/// test.
pub fn docker(args: &[&str]) -> Output {
    try_docker(args).unwrap_or_else(|why| panic!("{why}"))
}

/// Removes `names`, one container per call, a few at a time; never
/// panics (it runs in `Drop`). Once a removal times out the engine is hung
/// and the rest are left for the next run's sweep (tests/run), rather than
/// each waiting out its own time limit.
pub fn remove_containers(names: &[String]) {
    let hung = AtomicBool::new(false);
    for (i, chunk) in names.chunks(CHANGES_AT_ONCE).enumerate() {
        if hung.load(Ordering::Relaxed) {
            let left = names.len() - i * CHANGES_AT_ONCE;
            eprintln!("left {left} containers for the next run's sweep");
            return;
        }
        std::thread::scope(|scope| {
            for name in chunk {
                let hung = &hung;
                scope.spawn(move || {
                    if let Err(why) = try_docker(&["rm", "-f", name]) {
                        eprintln!("{why}");
                        hung.store(true, Ordering::Relaxed);
                    }
                });
            }
        });
    }
}
