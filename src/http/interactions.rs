//! `POST /interactions`: Discord's interactions endpoint, when
//! `fleet.interactions = "http"`. The signature is checked by chat's
//! `Endpoint` before the body is read as anything; here the request's
//! headers and body go in and the status goes out. Refusals (bad or
//! missing signatures, replays, bodies that are no interaction) are
//! counted per source and audited in aggregate, as every unauthenticated
//! refusal is.

use super::{sentence, State, BODY_LIMIT};
use crate::chat::Received;
use axum::body::Body;
use axum::extract::{ConnectInfo, State as Extract};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use time::OffsetDateTime;

pub(super) async fn receive(
    Extract(s): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let Some(endpoint) = &s.interactions else {
        return sentence(
            StatusCode::NOT_FOUND,
            "this bot takes interactions over the gateway (fleet.interactions = \"gateway\")",
        );
    };
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        s.refusals
            .count(Some(peer.ip()), "interaction body too large", now);
        return sentence(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let received = endpoint
        .receive(
            header("x-signature-ed25519"),
            header("x-signature-timestamp"),
            &body,
            now.unix_timestamp(),
        )
        .await;
    let refused = |status: StatusCode, why: &'static str| {
        s.refusals.count(Some(peer.ip()), why, now);
        sentence(status, why)
    };
    match received {
        Received::Answer(json) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Received::Unauthorized(why) => refused(StatusCode::UNAUTHORIZED, why),
        Received::BadBody(why) => {
            tracing::warn!(peer = %peer, error = %why, "a signed request that is no interaction");
            refused(StatusCode::BAD_REQUEST, "the body is not an interaction")
        }
        Received::Duplicate => {
            refused(StatusCode::CONFLICT, "the interaction was answered already")
        }
        Received::Unanswered => sentence(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no answer in time; the bot's log says why",
        ),
    }
}
