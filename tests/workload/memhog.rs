//! Test workload for incident-bot's Docker tests: a tiny static program, run
//! from a FROM-scratch image, that holds a requested amount of memory.
//!
//! Usage: `memhog [--mb N] [--grow-mb N --every-ms MS] [--max-mb N]
//! [--wobble-mb N]` (N MiB more every other step, freed the step after), or
//! `memhog --report [--spew-kib N]` (run inside a container by the bot's
//! `/mem profile`: prints a profiler-like report, optionally padded to N KiB,
//! and exits).
//!
//! It allocates and touches `--mb` MiB (so the pages are resident and show in
//! the container's cgroup usage), prints `ready`, then optionally grows by
//! `--grow-mb` every `--every-ms` until `--max-mb` (0 = forever) to look like a
//! leak, or to run past a memory limit and be OOM-killed. It exits at once on
//! SIGTERM so `docker stop` is quick. Only `std` is used: the image has no libc
//! beyond what is linked in statically.

use std::io::Write;
use std::time::Duration;

extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn _exit(code: i32) -> !;
}

extern "C" fn on_sigterm(_: i32) {
    // Only async-signal-safe calls are allowed here: `_exit`, not `exit`.
    unsafe { _exit(0) }
}

fn arg(args: &[String], name: &str) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v}"))
        })
        .unwrap_or(0)
}

/// One MiB filled with non-zero bytes, so every page is written and resident.
fn chunk() -> Vec<u8> {
    vec![0xA5; 1 << 20]
}

fn main() {
    const SIGTERM: i32 = 15;
    const SIGINT: i32 = 2;
    unsafe {
        signal(SIGTERM, on_sigterm);
        signal(SIGINT, on_sigterm);
    }
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--report") {
        // What a tracemalloc top-10 looks like, so the bot's handling of a
        // profiler's output is tested on something of that shape.
        for i in 1..=10 {
            println!(
                "memhog.rs:{}: size={} KiB, count={}, average=1024 KiB",
                40 + i,
                1024 * (11 - i),
                11 - i
            );
        }
        let spew = arg(&args, "--spew-kib");
        for _ in 0..spew * 16 {
            println!("{}", "x".repeat(63));
        }
        let _ = std::io::stdout().flush();
        return;
    }
    let (mb, grow, every, max) = (
        arg(&args, "--mb"),
        arg(&args, "--grow-mb"),
        arg(&args, "--every-ms").max(1),
        arg(&args, "--max-mb"),
    );
    // `--wobble-mb N`: N MiB more every other step, freed the step after:
    // a noisy series.
    let wobble = arg(&args, "--wobble-mb");
    let mut extra: Vec<Vec<u8>> = Vec::new();
    let mut held: Vec<Vec<u8>> = (0..mb).map(|_| chunk()).collect();
    println!("ready {mb}");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::sleep(Duration::from_millis(if grow == 0 && wobble == 0 {
            3_600_000
        } else {
            every
        }));
        if wobble > 0 {
            if extra.is_empty() {
                extra.extend((0..wobble).map(|_| chunk()));
            } else {
                extra.clear();
            }
        }
        if grow > 0 && (max == 0 || (held.len() as u64) < max) {
            held.extend((0..grow).map(|_| chunk()));
            println!("holding {}", held.len());
            let _ = std::io::stdout().flush();
        }
    }
}
