//! The HTTP side: one axum fallback handler that reads the request (JSON or
//! multipart with `payload_json` and `files[N]`), routes it, records it with
//! the status answered, and replies. Channels, messages, threads, the bot's
//! identity and the gateway URL live here; commands, interaction callbacks
//! and webhooks in `interactions.rs`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::messages::{compose, Upload};
use super::state::{snowflake, Shared, State};
use super::{gateway, interactions, payloads, Recorded};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/gateway", get(gateway::upgrade))
        .fallback(handle)
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(shared)
}

pub(super) enum Reply {
    Json(u16, Value),
    Empty,
    Bytes(String, Vec<u8>),
}

impl Reply {
    pub(super) fn status(&self) -> u16 {
        match self {
            Reply::Json(s, _) => *s,
            Reply::Empty => 204,
            Reply::Bytes(..) => 200,
        }
    }
}

pub(super) fn ok(v: Value) -> Reply {
    Reply::Json(200, v)
}

pub(super) fn fail(status: u16, code: u64, message: &str) -> Reply {
    Reply::Json(status, payloads::error(code, message))
}

pub(super) fn not_found() -> Reply {
    fail(404, 0, "404: Not Found")
}

/// A request's body: JSON (or `payload_json`) and uploads.
pub(super) struct Parsed {
    pub json: Option<Value>,
    pub uploads: Vec<Upload>,
}

impl Parsed {
    pub fn payload(&self) -> Value {
        self.json.clone().unwrap_or_else(|| json!({}))
    }
}

async fn read_body(req: Request) -> Result<Parsed, Reply> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bad_json = || fail(400, 50109, "The request body contains invalid JSON.");
    let mut parsed = Parsed {
        json: None,
        uploads: Vec::new(),
    };
    if ctype.starts_with("multipart/form-data") {
        let bad = |e: String| fail(400, 0, &format!("400: Bad Request ({e})"));
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| bad(e.body_text()))?;
        while let Some(field) = form.next_field().await.map_err(|e| bad(e.body_text()))? {
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let data = field
                .bytes()
                .await
                .map_err(|e| bad(e.body_text()))?
                .to_vec();
            if name == "payload_json" {
                parsed.json = Some(serde_json::from_slice(&data).map_err(|_| bad_json())?);
            } else if let Some(index) = name
                .strip_prefix("files[")
                .and_then(|r| r.strip_suffix(']'))
            {
                parsed.uploads.push(Upload {
                    index: index.parse().ok(),
                    filename: filename.unwrap_or_else(|| format!("file{index}")),
                    content_type,
                    data,
                });
            }
        }
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .map_err(|_| bad_json())?;
        if !bytes.is_empty() {
            parsed.json = Some(serde_json::from_slice(&bytes).map_err(|_| bad_json())?);
        }
    }
    Ok(parsed)
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let bot_auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bot ") && v.len() > 4);
    let body = read_body(req).await;
    let reply = shared.write(|s| {
        let (reply, json, files) = match body {
            Ok(parsed) => {
                let reply = route(s, &method, &path, bot_auth, &parsed);
                let files = parsed
                    .uploads
                    .into_iter()
                    .map(|u| (u.filename, u.data))
                    .collect();
                (reply, parsed.json, files)
            }
            Err(reply) => (reply, None, Vec::new()),
        };
        s.requests.push(Recorded {
            method,
            path,
            query,
            json,
            files,
            status: reply.status(),
            at: Instant::now(),
        });
        reply
    });
    match reply {
        Reply::Json(status, v) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(v),
        )
            .into_response(),
        Reply::Empty => StatusCode::NO_CONTENT.into_response(),
        Reply::Bytes(ctype, data) => {
            ([(header::CONTENT_TYPE, ctype)], Body::from(data)).into_response()
        }
    }
}

pub(super) fn id(seg: &str) -> Option<u64> {
    seg.parse().ok()
}

fn route(s: &mut State, method: &str, path: &str, auth: bool, body: &Parsed) -> Reply {
    if let Some(rest) = path.strip_prefix("/attachments/") {
        // The "CDN": attachment URLs on messages point here.
        let seg: Vec<&str> = rest.split('/').collect();
        return match seg
            .get(1)
            .and_then(|i| id(i))
            .and_then(|i| s.attachments.get(&i))
        {
            Some(a) if method == "GET" => Reply::Bytes(a.content_type.clone(), a.data.clone()),
            _ => not_found(),
        };
    }
    let Some(rest) = path.strip_prefix("/api/v10/") else {
        return not_found();
    };
    let seg: Vec<&str> = rest.split('/').collect();
    // Interaction callbacks and webhooks are authorised by their token.
    if !matches!(seg[0], "interactions" | "webhooks") && !auth {
        return fail(401, 0, "401: Unauthorized");
    }
    let base = s.base();
    match (method, seg.as_slice()) {
        ("GET", ["gateway"]) => ok(json!({"url": format!("ws://127.0.0.1:{}/gateway", s.port)})),
        ("GET", ["gateway", "bot"]) => ok(payloads::gateway_bot(&format!(
            "ws://127.0.0.1:{}/gateway",
            s.port
        ))),
        ("GET", ["users", "@me"]) => ok(payloads::bot_user()),
        ("POST", ["users", "@me", "channels"]) => dm(s, body),
        ("GET", ["oauth2", "applications", "@me"] | ["applications", "@me"]) => {
            ok(payloads::application_info())
        }
        (m, ["applications", app, "commands", rest @ ..]) => {
            interactions::commands(s, m, app, None, rest, body)
        }
        (m, ["applications", app, "guilds", guild, "commands", rest @ ..]) => {
            interactions::commands(s, m, app, Some(guild), rest, body)
        }
        ("POST", ["interactions", ix, token, "callback"]) => {
            interactions::callback(s, ix, token, body)
        }
        (m, ["webhooks", app, token, rest @ ..]) => {
            interactions::webhook(s, m, app, token, rest, body)
        }
        (m, ["channels", ch, rest @ ..]) => match id(ch).filter(|c| s.channels.contains_key(c)) {
            Some(ch) => channel_route(s, &base, m, ch, rest, body),
            None => fail(404, 10003, "Unknown Channel"),
        },
        _ => not_found(),
    }
}

fn channel_route(
    s: &mut State,
    base: &str,
    method: &str,
    ch: u64,
    rest: &[&str],
    body: &Parsed,
) -> Reply {
    let in_channel = |s: &State, mid: &str| {
        id(mid).filter(|m| {
            s.messages
                .get(m)
                .is_some_and(|m| m.json["channel_id"] == ch.to_string().as_str())
        })
    };
    let unknown_message = || fail(404, 10008, "Unknown Message");
    match (method, rest) {
        ("GET", []) => ok(s.channels[&ch].clone()),
        ("POST", ["typing"]) => Reply::Empty,
        ("POST", ["messages"]) => {
            let payload = body.payload();
            let kind = if payload.get("message_reference").is_some() {
                19
            } else {
                0
            };
            let skeleton = payloads::message(snowflake(), ch, kind, false);
            let c = compose(base, &skeleton, &payload, &body.uploads, false);
            match s.commit(c, true) {
                Ok(m) => ok(m),
                Err(e) => Reply::Json(400, e),
            }
        }
        ("GET", ["messages"]) => {
            let mut list = s.messages_in(ch, true);
            list.reverse();
            ok(Value::Array(list))
        }
        (m, ["messages", mid]) => {
            let Some(mid) = in_channel(s, mid) else {
                return unknown_message();
            };
            match m {
                "GET" => ok(s.messages[&mid].json.clone()),
                "DELETE" => {
                    s.messages.remove(&mid);
                    Reply::Empty
                }
                "PATCH" => {
                    let from_post = s.messages[&mid].from_channel_post;
                    let old = s.messages[&mid].json.clone();
                    let c = compose(base, &old, &body.payload(), &body.uploads, true);
                    match s.commit(c, from_post) {
                        Ok(m) => ok(m),
                        Err(e) => Reply::Json(400, e),
                    }
                }
                _ => not_found(),
            }
        }
        ("PUT" | "DELETE", ["messages", mid, "reactions", _emoji, "@me"]) => {
            match in_channel(s, mid) {
                Some(_) => Reply::Empty,
                None => unknown_message(),
            }
        }
        ("PUT", ["pins", mid]) => match in_channel(s, mid) {
            Some(mid) => {
                if let Some(m) = s.messages.get_mut(&mid) {
                    m.json["pinned"] = serde_json::Value::Bool(true);
                }
                Reply::Empty
            }
            None => unknown_message(),
        },
        ("POST", ["threads"]) => thread(s, ch, body, None),
        ("POST", ["messages", mid, "threads"]) => match id(mid) {
            Some(mid) => thread(s, ch, body, Some(mid)),
            None => unknown_message(),
        },
        _ => not_found(),
    }
}

fn thread(s: &mut State, parent: u64, body: &Parsed, from: Option<u64>) -> Reply {
    match s.create_thread(parent, &body.payload(), from) {
        Ok(t) => Reply::Json(201, t),
        Err((status, e)) => Reply::Json(status, e),
    }
}

/// POST /users/@me/channels: the DM channel with `recipient_id` (a string
/// snowflake, or a number).
fn dm(s: &mut State, body: &Parsed) -> Reply {
    let payload = body.payload();
    let r = &payload["recipient_id"];
    match r.as_str().and_then(id).or_else(|| r.as_u64()) {
        Some(user) => ok(s.open_dm(user)),
        None => fail(400, 50035, "Invalid Form Body"),
    }
}
