//! Application commands (bulk overwrite, create, list, delete), interaction
//! callbacks (with Discord's 3 s deadline and "already acknowledged") and
//! the interaction webhooks (`@original`, follow-ups).

use serde_json::{json, Value};

use super::messages::{compose, LOADING};
use super::payloads::{self, form_error};
use super::rest::{fail, id, not_found, ok, Parsed, Reply};
use super::state::{snowflake, State};
use super::{validate, APP_ID, GUILD_ID};

pub(super) fn commands(
    s: &mut State,
    method: &str,
    app: &str,
    guild: Option<&str>,
    rest: &[&str],
    body: &Parsed,
) -> Reply {
    if id(app) != Some(APP_ID) {
        return fail(404, 10002, "Unknown Application");
    }
    let scope = match guild.map(id) {
        None => None,
        Some(Some(GUILD_ID)) => Some(GUILD_ID),
        Some(_) => return fail(403, 50001, "Missing Access"),
    };
    let current = s.commands.get(&scope).cloned().unwrap_or_default();
    match (method, rest) {
        ("GET", []) => ok(Value::Array(current)),
        ("PUT", []) => overwrite_commands(s, scope, &current, body),
        ("POST", []) => create_command(s, scope, &current, body),
        (m, [cid]) => {
            let Some(pos) = current.iter().position(|c| c["id"] == *cid) else {
                return fail(404, 10063, "Unknown application command");
            };
            match m {
                "GET" => ok(current[pos].clone()),
                "DELETE" => {
                    let mut list = current;
                    list.remove(pos);
                    s.commands.insert(scope, list);
                    Reply::Empty
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// Whether two commands are the same one: same name and type.
fn same_command(a: &Value, b: &Value) -> bool {
    a["name"] == b["name"] && a["type"].as_u64().unwrap_or(1) == b["type"].as_u64().unwrap_or(1)
}

/// The stored command for `input`, keeping the id of the command it
/// replaces (`keep`); a new version either way.
fn build_command(input: &Value, keep: Option<&Value>, scope: Option<u64>) -> Value {
    let cid = keep
        .and_then(|c| id(c["id"].as_str()?))
        .unwrap_or_else(snowflake);
    payloads::command(input, cid, snowflake(), scope)
}

/// PUT: the bulk overwrite of a scope's commands.
fn overwrite_commands(
    s: &mut State,
    scope: Option<u64>,
    current: &[Value],
    body: &Parsed,
) -> Reply {
    let Some(list) = body.json.as_ref().and_then(Value::as_array) else {
        return Reply::Json(400, form_error("", "BASE_TYPE_ARRAY", "Must be an array."));
    };
    if let Err(e) = validate::commands(list) {
        return Reply::Json(400, e);
    }
    let out: Vec<Value> = list
        .iter()
        .map(|c| build_command(c, current.iter().find(|old| same_command(old, c)), scope))
        .collect();
    s.commands.insert(scope, out.clone());
    ok(Value::Array(out))
}

/// POST: creates a command, or replaces the one of the same name and type
/// (200 then, 201 for a new one).
fn create_command(s: &mut State, scope: Option<u64>, current: &[Value], body: &Parsed) -> Reply {
    let input = body.payload();
    let mut others: Vec<Value> = current
        .iter()
        .filter(|c| !same_command(c, &input))
        .cloned()
        .collect();
    others.push(input.clone());
    if let Err(e) = validate::commands(&others) {
        return Reply::Json(400, e);
    }
    let old = current.iter().find(|c| same_command(c, &input));
    let cmd = build_command(&input, old, scope);
    let status = if old.is_some() { 200 } else { 201 };
    let mut list: Vec<Value> = current
        .iter()
        .filter(|c| !same_command(c, &input))
        .cloned()
        .collect();
    list.push(cmd.clone());
    s.commands.insert(scope, list);
    Reply::Json(status, cmd)
}

fn unknown_interaction() -> Reply {
    fail(404, 10062, "Unknown interaction")
}

pub(super) fn callback(s: &mut State, ix_id: &str, token: &str, body: &Parsed) -> Reply {
    let base = s.base();
    let deadline = s.ack_deadline;
    let Some(ix_id) = id(ix_id) else {
        return unknown_interaction();
    };
    let Some(ix) = s.interactions.get(&ix_id).filter(|ix| ix.token == token) else {
        return unknown_interaction();
    };
    if ix.responded.is_some() {
        return fail(400, 40060, "Interaction has already been acknowledged.");
    }
    // Discord forgets an interaction not answered within 3 s.
    let since = ix.delivered_at.unwrap_or(ix.created);
    if deadline.is_some_and(|d| since.elapsed() > d) {
        return unknown_interaction();
    }
    let payload = body.payload();
    let kind = payload["type"].as_u64().unwrap_or(0);
    let allowed: &[u64] = match ix.kind {
        2 => &[4, 5, 9],
        3 => &[4, 5, 6, 7, 9],
        4 => &[8],
        _ => &[],
    };
    if !allowed.contains(&kind) {
        let e = form_error(
            "type",
            "BASE_TYPE_CHOICES",
            &format!("Value must be one of {allowed:?}."),
        );
        return Reply::Json(400, e);
    }
    let (ix_kind, channel_id, component_message) = (ix.kind, ix.channel_id, ix.message_id);
    let data = &payload["data"];
    let original = match kind {
        4 | 5 => {
            let msg_kind = if ix_kind == 2 { 20 } else { 0 };
            let skeleton = payloads::message(snowflake(), channel_id, msg_kind, true);
            if kind == 5 {
                // The "is thinking..." placeholder: empty, LOADING, and
                // ephemeral if the defer asked for it.
                let mut m = skeleton;
                m["flags"] = json!((data["flags"].as_u64().unwrap_or(0) & 64) | LOADING);
                Some(s.store_raw(m, false))
            } else {
                match s.commit(compose(&base, &skeleton, data, &body.uploads, false), false) {
                    Ok(m) => m["id"].as_str().and_then(|i| i.parse().ok()),
                    Err(e) => return Reply::Json(400, e),
                }
            }
        }
        6 => component_message,
        7 => {
            let mid = component_message.expect("component interactions have a message");
            let Some(old) = s.messages.get(&mid).map(|m| m.json.clone()) else {
                return fail(404, 10008, "Unknown Message");
            };
            let from_post = s.messages[&mid].from_channel_post;
            let c = compose(&base, &old, data, &body.uploads, true);
            if let Err(e) = s.commit(c, from_post) {
                return Reply::Json(400, e);
            }
            Some(mid)
        }
        8 => {
            if let Err(e) = validate::autocomplete_choices("data.choices", &data["choices"]) {
                return Reply::Json(400, e);
            }
            s.interactions.get_mut(&ix_id).expect("exists").choices = Some(data["choices"].clone());
            None
        }
        _ => None, // 9: a modal; nothing to store beyond the recorded request.
    };
    let ix = s.interactions.get_mut(&ix_id).expect("exists");
    ix.responded = Some(kind);
    ix.original = original;
    Reply::Empty
}

/// `/webhooks/{app}/{token}[/messages/{id|@original}]`. A follow-up is
/// answered with its message, `?wait=true` or not, as interaction webhooks
/// are.
pub(super) fn webhook(
    s: &mut State,
    method: &str,
    app: &str,
    token: &str,
    rest: &[&str],
    body: &Parsed,
) -> Reply {
    let base = s.base();
    let unknown_webhook = || fail(404, 10015, "Unknown Webhook");
    let unknown_message = || fail(404, 10008, "Unknown Message");
    let Some(&ix_id) = s.tokens.get(token).filter(|_| id(app) == Some(APP_ID)) else {
        return unknown_webhook();
    };
    let ix = &s.interactions[&ix_id];
    let (responded, original, channel_id) = (ix.responded, ix.original, ix.channel_id);
    let mid = match rest {
        [] => None,
        ["messages", "@original"] => match original {
            Some(m) => Some(m),
            None => return unknown_message(),
        },
        ["messages", mid] => {
            match id(mid).filter(|m| Some(*m) == original || ix.followups.contains(m)) {
                Some(m) => Some(m),
                None => return unknown_message(),
            }
        }
        _ => return not_found(),
    };
    match (method, mid) {
        ("POST", None) => {
            // Follow-ups need an answered interaction.
            if responded.is_none() {
                return unknown_webhook();
            }
            let skeleton = payloads::message(snowflake(), channel_id, 0, true);
            let c = compose(&base, &skeleton, &body.payload(), &body.uploads, false);
            match s.commit(c, false) {
                Ok(m) => {
                    let mid = m["id"].as_str().and_then(|i| i.parse().ok()).unwrap_or(0);
                    s.interactions
                        .get_mut(&ix_id)
                        .expect("exists")
                        .followups
                        .push(mid);
                    ok(m)
                }
                Err(e) => Reply::Json(400, e),
            }
        }
        (m, Some(mid)) => {
            let Some(stored) = s.messages.get(&mid) else {
                return unknown_message();
            };
            match m {
                "GET" => ok(stored.json.clone()),
                "DELETE" => {
                    s.messages.remove(&mid);
                    Reply::Empty
                }
                "PATCH" => {
                    let from_post = stored.from_channel_post;
                    let old = stored.json.clone();
                    let c = compose(&base, &old, &body.payload(), &body.uploads, true);
                    match s.commit(c, from_post) {
                        Ok(m) => ok(m),
                        Err(e) => Reply::Json(400, e),
                    }
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}
