//! The bot's HTTP endpoints, a front end beside chat and the CLI:
//!
//! - `POST /alertmanager`: Prometheus Alertmanager's webhook (version 4),
//!   behind a bearer token. Its alerts go to the same channel as the live
//!   watcher's, so both map to the same incidents.
//! - `POST /interactions`: Discord's interactions endpoint, when
//!   `fleet.interactions = "http"` (signed with Ed25519; see
//!   `chat::Endpoint`).
//! - `GET /metrics`: Prometheus text format (see [`crate::metrics`]).
//! - `GET /healthz`: the process answers. `GET /readyz`: the database, the
//!   watcher and the Discord gateway are all up.
//!
//! Every refusal is one sentence in the body and is audited: after the
//! token, one row each; before it (anyone can knock), counted per source
//! and written as one row per interval. Nothing a request carries is ever
//! run.

mod alertmanager;
mod interactions;
mod refusals;

pub use refusals::Refusals;

use crate::config::Secret;
use crate::core::alerting::AlertEvent;
use crate::health::Health;
use crate::metrics::{ContainerGauge, Live};
use crate::store::{AuditEntry, Store};
use crate::watch::Watcher;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State as Extract};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// Alertmanager batches are small; anything larger is not one.
const BODY_LIMIT: usize = 1 << 20;

/// What the endpoints need.
pub struct State {
    /// host:port; empty turns the endpoints off.
    pub listen: String,
    pub watcher: Arc<Watcher>,
    pub store: Store,
    /// Database and gateway, as known right now.
    pub health: Arc<Health>,
    /// The bearer token Alertmanager must present; `None` refuses all.
    pub token: Option<Secret>,
    pub alerts: mpsc::Sender<AlertEvent>,
    /// Unauthenticated refusals are audited in aggregate this often.
    pub refusal_audit_every: Duration,
    pub refusals: Refusals,
    /// Discord's interactions endpoint, when interactions come over HTTP.
    pub interactions: Option<Arc<crate::chat::Endpoint>>,
    /// This node's part in a fleet, for /readyz and /metrics.
    pub fleet: Option<Arc<crate::app::App>>,
}

/// Binds the listener (so a taken port fails `serve` at once, with the
/// address in the sentence) and serves in the background.
pub async fn spawn(state: State) -> Result<(), String> {
    if state.listen.trim().is_empty() {
        tracing::info!("http.listen is empty: no HTTP endpoints");
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(state.listen.trim())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", state.listen))?;
    if state.token.is_none() {
        tracing::warn!("ALERTMANAGER_TOKEN is not set: POST /alertmanager refuses every request");
    }
    let addr = listener
        .local_addr()
        .map_or(state.listen.clone(), |a| a.to_string());
    let state = Arc::new(state);
    let app = Router::new()
        .route("/alertmanager", post(intake))
        .route("/interactions", post(interactions::receive))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state.clone());
    tracing::info!(listen = %addr, "HTTP endpoints listening");
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP endpoints stopped");
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.refusal_audit_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if state.health.db_ready() {
                state
                    .refusals
                    .flush(&state.store, OffsetDateTime::now_utc())
                    .await;
            }
        }
    });
    Ok(())
}

fn sentence(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

/// Why an unauthenticated request was refused (aggregated in the audit).
const NO_TOKEN_CONFIGURED: &str = "no ALERTMANAGER_TOKEN is configured";
const BAD_TOKEN: &str = "missing or wrong bearer token";

async fn intake(
    Extract(s): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let m = crate::metrics::global();
    if let Some(refused) = unauthorized(&s, peer, &headers, now) {
        return refused;
    }
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => {
            m.alertmanager_request("too_large");
            let why = format!(
                "refused: the body is not a webhook delivery of at most {} KiB ({e})",
                BODY_LIMIT / 1024
            );
            audit(&s, now, &why).await;
            return sentence(StatusCode::PAYLOAD_TOO_LARGE, &why["refused: ".len()..]);
        }
    };
    let known = s.watcher.alert_names();
    let project = match s.watcher.scope() {
        crate::config::Scope::Project(p) => Some(p.as_str()),
        crate::config::Scope::All => None,
    };
    let parsed = match alertmanager::parse(&body, &known, project, s.watcher.host().is_some(), now)
    {
        Ok(p) => p,
        Err(why) => {
            m.alertmanager_request("malformed");
            tracing::warn!(reason = %why, bytes = body.len(), "refused an Alertmanager delivery");
            audit(&s, now, &format!("refused: {why}")).await;
            return sentence(StatusCode::BAD_REQUEST, &why);
        }
    };
    for ev in &parsed.events {
        m.alert(
            &ev.name,
            if ev.firing { "firing" } else { "resolved" },
            "alertmanager",
        );
        // Full queue: ask Alertmanager to retry rather than lose the alert.
        let sent = tokio::time::timeout(Duration::from_secs(5), s.alerts.send(ev.clone())).await;
        if !matches!(sent, Ok(Ok(()))) {
            m.alertmanager_request("busy");
            audit(
                &s,
                now,
                "failed: the alert queue is full; Alertmanager will retry",
            )
            .await;
            return sentence(StatusCode::SERVICE_UNAVAILABLE, "busy: retry later");
        }
    }
    m.alertmanager_request("accepted");
    let result = format!(
        "accepted {} alert(s){}",
        parsed.events.len(),
        if parsed.ignored.is_empty() {
            String::new()
        } else {
            format!("; ignored: {}", parsed.ignored.join("; "))
        }
    );
    audit(&s, now, &result).await;
    sentence(StatusCode::OK, &result)
}

/// Checks the bearer token before a byte of the body is read: a stranger
/// cannot make the bot buffer anything, and is counted, not audited one row
/// at a time (see `refusals`). `Some` is the refusal to answer with.
fn unauthorized(
    s: &State,
    peer: SocketAddr,
    headers: &HeaderMap,
    now: OffsetDateTime,
) -> Option<Response> {
    let m = crate::metrics::global();
    let Some(token) = &s.token else {
        m.alertmanager_request("not_configured");
        s.refusals.count(Some(peer.ip()), NO_TOKEN_CONFIGURED, now);
        return Some(sentence(
            StatusCode::SERVICE_UNAVAILABLE,
            "this bot takes no Alertmanager deliveries: ALERTMANAGER_TOKEN is not set",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(presented.as_bytes(), token.expose().as_bytes()) {
        m.alertmanager_request("unauthorized");
        s.refusals.count(Some(peer.ip()), BAD_TOKEN, now);
        let mut r = sentence(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
        return Some(r);
    }
    None
}

/// Compares without stopping at the first difference, so response time
/// says nothing about how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0 && !b.is_empty()
}

async fn audit(s: &State, at: OffsetDateTime, result: &str) {
    if !s.health.db_ready() {
        tracing::warn!(
            result,
            "Alertmanager delivery not audited: the database is not ready"
        );
        return;
    }
    let entry = AuditEntry {
        at,
        actor: "alertmanager".into(),
        action: "POST /alertmanager".into(),
        target: None,
        result: crate::core::text::clip(result, 1000),
        detail: None,
    };
    if let Err(e) = s.store.audit(&entry).await {
        crate::metrics::global().postgres_error("audit");
        tracing::warn!(error = %crate::cause_chain(&e), "audit row not recorded");
    }
}

async fn metrics(Extract(s): Extract<Arc<State>>) -> Response {
    let now = OffsetDateTime::now_utc();
    let live = s.watcher.live(now);
    let containers = live
        .snapshot
        .containers
        .iter()
        .filter_map(|c| match c.reading {
            crate::core::memory::Reading::Sampled {
                usage_bytes,
                limit_bytes,
            } => Some(ContainerGauge {
                name: c.name.clone(),
                service: c.service.clone(),
                usage_bytes,
                limit_bytes,
                sample_age_seconds: s.watcher.sample_age(&c.id, now).unwrap_or(0.0),
            }),
            _ => None,
        })
        .collect();
    let database_up = s.health.db_ready();
    let alerts_firing = if database_up {
        match tokio::time::timeout(Duration::from_secs(2), s.store.firing_alert_counts()).await {
            Ok(Ok(counts)) => counts,
            _ => {
                crate::metrics::global().postgres_error("firing_alert_counts");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let fleet = match (&s.fleet, database_up) {
        (Some(_), true) => fleet_gauges(&s.store).await,
        _ => Vec::new(),
    };
    let text = crate::metrics::global().render(&Live {
        containers,
        alerts_firing,
        watcher_up: s.watcher.is_synced(),
        database_up,
        fleet,
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The fleet's nodes for /metrics, read within 2 s.
async fn fleet_gauges(store: &Store) -> Vec<crate::metrics::NodeGauge> {
    match tokio::time::timeout(Duration::from_secs(2), store.fleet()).await {
        Ok(Ok(nodes)) => nodes
            .into_iter()
            .map(|n| crate::metrics::NodeGauge {
                lag_seconds: n.stale_secs.unwrap_or(n.silent_secs),
                silent_seconds: n.silent_secs,
                role: n.role,
                node: n.name,
            })
            .collect(),
        _ => {
            crate::metrics::global().postgres_error("fleet");
            Vec::new()
        }
    }
}

async fn ready(Extract(s): Extract<Arc<State>>) -> Response {
    // A standby of a fleet holds no gateway session by design: it is
    // ready to take over, not down.
    let role = s.fleet.as_ref().map(|app| app.fleet_role());
    let discord = s.health.gateway_up() || role == Some("standby");
    let checks = [
        ("database", s.health.db_ready()),
        ("watcher", s.watcher.is_synced()),
        ("discord", discord),
    ];
    let mut text: Vec<String> = checks
        .iter()
        .map(|(what, up)| format!("{what}: {}", if *up { "up" } else { "down" }))
        .collect();
    if let (Some(role), Some(app)) = (role, &s.fleet) {
        text.push(format!("fleet: node {} ({role})", app.settings.fleet.node));
    }
    let status = if checks.iter().all(|(_, up)| *up) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, text.join("\n") + "\n").into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_comparison() {
        assert!(super::same(b"s3cret", b"s3cret"));
        assert!(!super::same(b"s3cre", b"s3cret"));
        assert!(!super::same(b"s3cret!", b"s3cret"));
        assert!(!super::same(b"", b""));
        assert!(!super::same(b"x", b""));
    }
}
