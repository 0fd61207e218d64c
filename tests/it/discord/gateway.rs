//! The gateway websocket: HELLO, IDENTIFY → READY, heartbeat ACKs, RESUME
//! (replaying the dispatches the client missed, then RESUMED) and the ways
//! a test can break a connection. Frames are plain JSON text; the
//! `compress` flag of IDENTIFY is ignored, as serenity reads text frames.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::payloads;
use super::state::{Conn, ConnCmd, Session, Shared, State};

/// Short, so tests exercise heartbeating without waiting long.
pub(super) const HEARTBEAT_INTERVAL_MS: u64 = 2000;

pub(super) async fn upgrade(
    AxState(shared): AxState<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| run(shared, socket, query))
}

async fn run(shared: Arc<Shared>, mut socket: WebSocket, query: HashMap<String, String>) {
    if query.get("v").is_some_and(|v| v != "10") {
        let _ = socket.send(close(4012, "Invalid API version")).await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn_id = shared.write(|s| {
        let id = s.gateway.next_conn;
        s.gateway.next_conn += 1;
        s.gateway.conns.insert(
            id,
            Conn {
                tx: tx.clone(),
                session: None,
            },
        );
        id
    });
    let hello =
        json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}});
    let _ = tx.send(ConnCmd::Frame(hello.to_string(), None));
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if let Err((code, why)) = shared.write(|s| on_frame(s, conn_id, &text)) {
                        let _ = socket.send(close(code, why)).await;
                        break;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = socket.send(close(4002, "Decode error")).await;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            cmd = rx.recv() => match cmd {
                Some(ConnCmd::Frame(f, interaction)) => {
                    if socket.send(Message::Text(f.into())).await.is_err() {
                        break;
                    }
                    if interaction.is_some() {
                        shared.write(|s| s.mark_delivered(interaction));
                    }
                }
                Some(ConnCmd::Close(code, why)) => {
                    let _ = socket.send(close(code, why)).await;
                    break;
                }
                // Dropping the socket without a close frame: the client sees
                // the TCP connection end.
                Some(ConnCmd::Abort) | None => break,
            },
            _ = super::state::until_down(&mut shutdown) => break,
        }
    }
    shared.write(|s| s.gateway.conns.remove(&conn_id));
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Handles one client frame; `Err` closes the connection with that code.
pub(super) fn on_frame(s: &mut State, conn_id: u64, text: &str) -> Result<(), (u16, &'static str)> {
    let frame: Value = serde_json::from_str(text).map_err(|_| (4002, "Decode error"))?;
    let d = &frame["d"];
    match frame["op"].as_u64() {
        Some(1) => {
            s.gateway.heartbeat_count += 1;
            send(
                s,
                conn_id,
                json!({"op": 11, "s": null, "t": null, "d": null}),
            );
        }
        Some(2) => identify(s, conn_id, d)?,
        Some(6) => resume(s, conn_id, d),
        // Presence, voice state, request guild members: nothing to do.
        Some(3 | 4 | 8 | 31) => {}
        _ => return Err((4001, "Unknown opcode")),
    }
    Ok(())
}

fn send(s: &State, conn_id: u64, frame: Value) {
    if let Some(c) = s.gateway.conns.get(&conn_id) {
        let _ = c.tx.send(ConnCmd::Frame(frame.to_string(), None));
    }
}

fn bind(s: &mut State, conn_id: u64, session: &str) {
    // One connection per session, as on Discord: an older one is cut.
    for (id, c) in s.gateway.conns.iter_mut() {
        if *id != conn_id && c.session.as_deref() == Some(session) {
            c.session = None;
            let _ = c.tx.send(ConnCmd::Abort);
        }
    }
    if let Some(c) = s.gateway.conns.get_mut(&conn_id) {
        c.session = Some(session.to_string());
    }
}

fn identify(s: &mut State, conn_id: u64, d: &Value) -> Result<(), (u16, &'static str)> {
    if !d["token"].is_string() {
        return Err((4004, "Authentication failed"));
    }
    if s.gateway
        .conns
        .get(&conn_id)
        .is_some_and(|c| c.session.is_some())
    {
        return Err((4005, "Already authenticated"));
    }
    s.gateway.identify_count += 1;
    s.gateway.last_identify = Some(d.clone());
    s.sessions_started += 1;
    let id = format!("emu-session-{}-{}", s.port, s.sessions_started);
    s.gateway.session = Some(Session {
        id: id.clone(),
        log: Vec::new(),
    });
    bind(s, conn_id, &id);
    let url = format!("ws://127.0.0.1:{}/gateway", s.port);
    s.dispatch("READY", payloads::ready(&id, &url, d.get("shard")), None);
    s.gateway.ready_count += 1;
    // The guild READY listed as unavailable becomes available.
    let guild = payloads::guild_create(&s.channels);
    s.dispatch("GUILD_CREATE", guild, None);
    Ok(())
}

fn resume(s: &mut State, conn_id: u64, d: &Value) {
    let seq = d["seq"].as_u64().unwrap_or(0);
    let ok =
        s.gateway.session.as_ref().is_some_and(|sess| {
            d["session_id"] == sess.id.as_str() && seq <= sess.log.len() as u64
        });
    if !ok {
        send(
            s,
            conn_id,
            json!({"op": 9, "s": null, "t": null, "d": false}),
        );
        return;
    }
    let id = s
        .gateway
        .session
        .as_ref()
        .map(|x| x.id.clone())
        .unwrap_or_default();
    bind(s, conn_id, &id);
    let missed: Vec<(String, Option<u64>)> = s
        .gateway
        .session
        .as_ref()
        .map(|sess| {
            sess.log
                .iter()
                .filter(|f| f.seq > seq)
                .map(|f| (f.frame.clone(), f.interaction))
                .collect()
        })
        .unwrap_or_default();
    if let Some(c) = s.gateway.conns.get(&conn_id) {
        for (frame, interaction) in missed {
            let _ = c.tx.send(ConnCmd::Frame(frame, interaction));
        }
    }
    s.gateway.resume_count += 1;
    s.dispatch(
        "RESUMED",
        json!({"_trace": ["[\"discord-emulator\"]"]}),
        None,
    );
}
