//! A local HTTP receiver standing in for a paging service (PagerDuty's
//! Events API v2) and for a dead-man's-switch heartbeat URL: it records
//! every request (method, path, body) and answers with the statuses it was
//! told to, in order, then 202.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::Router;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One request as received, and what it was answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub body: serde_json::Value,
    pub status: u16,
    /// When it arrived.
    pub at: std::time::SystemTime,
}

#[derive(Default)]
struct Inner {
    answers: VecDeque<u16>,
    got: Vec<Received>,
}

/// A running receiver; it stops with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl Receiver {
    /// Starts one that answers `answers` first (e.g. `[500, 500]`), then
    /// 202 to everything.
    pub async fn start(answers: &[u16]) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            answers: answers.iter().copied().collect(),
            got: Vec::new(),
        }));
        let app = Router::new().fallback(record).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { inner, base }
    }

    /// Everything received so far.
    pub fn got(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    /// The requests it accepted (2xx).
    pub fn accepted(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

async fn record(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    let status = inner.answers.pop_front().unwrap_or(202);
    inner.got.push(Received {
        method: method.to_string(),
        path: uri.path().to_string(),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        status,
        at: std::time::SystemTime::now(),
    });
    StatusCode::from_u16(status).unwrap()
}
