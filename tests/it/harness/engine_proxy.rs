//! A Docker engine that is slow on purpose and counts what it is asked: a
//! Unix-socket proxy in front of the real engine that holds every request
//! for a chosen delay, counts stats reads and how many are in flight at
//! once. Everything else is the real engine's answer, byte for byte. It
//! can also go away (every connection cut, new ones refused) and come back,
//! like an engine that died and was restarted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

const ENGINE: &str = "/var/run/docker.sock";

/// What the proxy saw.
#[derive(Default)]
pub struct Seen {
    /// Every request.
    pub requests: AtomicU64,
    /// `GET …/containers/{id}/stats` requests.
    pub stats: AtomicU64,
    in_flight: AtomicI64,
    /// The most stats requests waiting for their answer at once.
    pub max_in_flight: AtomicI64,
}

impl Seen {
    pub fn stats(&self) -> u64 {
        self.stats.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> i64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Forgets the counts (not what is in flight).
    pub fn reset(&self) {
        self.requests.store(0, Ordering::SeqCst);
        self.stats.store(0, Ordering::SeqCst);
        let now = self.in_flight.load(Ordering::SeqCst);
        self.max_in_flight.store(now, Ordering::SeqCst);
    }
}

pub struct EngineProxy {
    path: PathBuf,
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
    /// Whether the engine is there; relays end when it goes.
    up: tokio::sync::watch::Sender<bool>,
}

impl EngineProxy {
    /// Listens on a socket of its own; every request waits `delay` before
    /// it reaches the engine.
    pub fn start(delay: Duration) -> EngineProxy {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ib-engine-proxy-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("proxy socket");
        let seen = Arc::new(Seen::default());
        let counts = seen.clone();
        let (up, state) = tokio::sync::watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*state.borrow() {
                    continue; // dropped: the engine is away
                }
                let mut state = state.clone();
                let relay = relay(client, counts.clone(), delay);
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay => {}
                        _ = state.wait_for(|up| !up) => {}
                    }
                });
            }
        });
        EngineProxy {
            path,
            seen,
            task,
            up,
        }
    }

    /// The engine goes away (`false`: every connection is cut, new ones
    /// are closed at once) or comes back (`true`).
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Request lines in a chunk of what the client sent (bodies of the bot's
/// requests are JSON, which never holds one).
fn requests(chunk: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(chunk)
        .split("\r\n")
        .filter(|l| {
            l.ends_with(" HTTP/1.1")
                && ["GET ", "POST ", "DELETE ", "HEAD ", "PUT "]
                    .iter()
                    .any(|m| l.starts_with(m))
        })
        .map(str::to_string)
        .collect()
}

async fn relay(client: UnixStream, seen: Arc<Seen>, delay: Duration) {
    let Ok(engine) = UnixStream::connect(ENGINE).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_engine, mut to_engine) = engine.into_split();
    // Stats requests of this connection not answered yet.
    let waiting = Arc::new(AtomicI64::new(0));
    let (up_seen, up_waiting) = (seen.clone(), waiting.clone());
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let lines = requests(&buf[..n]);
            for line in &lines {
                up_seen.requests.fetch_add(1, Ordering::SeqCst);
                if line.starts_with("GET ") && line.contains("/stats") {
                    up_seen.stats.fetch_add(1, Ordering::SeqCst);
                    up_waiting.fetch_add(1, Ordering::SeqCst);
                    let now = up_seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    up_seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
                }
            }
            if !lines.is_empty() {
                tokio::time::sleep(delay).await;
            }
            if to_engine.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_engine.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // The answer has begun: this connection's stats reads are done.
            let done = waiting.swap(0, Ordering::SeqCst);
            seen.in_flight.fetch_sub(done, Ordering::SeqCst);
            if to_client.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let done = waiting.swap(0, Ordering::SeqCst);
        seen.in_flight.fetch_sub(done, Ordering::SeqCst);
    };
    tokio::join!(up, down);
}
