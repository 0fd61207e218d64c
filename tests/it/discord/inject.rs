//! Building and dispatching the interactions a test injects. Option types,
//! required options and choices come from the command the bot registered,
//! as Discord's client would enforce them; components must exist on the
//! stored message the click targets.

use std::time::Instant;

use serde_json::{json, Map, Value};

use super::payloads;
use super::state::{snowflake, Interaction, State};
use super::{Click, Sent, Slash, GUILD_ID};

pub(super) enum Fail {
    /// Not possible yet (no gateway session, command not registered): the
    /// caller waits for a change and retries.
    NotYet(String),
    /// A mistake in the test: panic.
    Invalid(String),
}

fn registered<'a>(st: &'a State, name: &str) -> Option<&'a Value> {
    [Some(GUILD_ID), None].iter().find_map(|scope| {
        st.commands
            .get(scope)?
            .iter()
            .find(|c| c["name"] == name && c["type"].as_u64().unwrap_or(1) == 1)
    })
}

fn option_defs(def: &Value) -> Vec<Value> {
    def["options"].as_array().cloned().unwrap_or_default()
}

/// Values as Discord sends them for the option type; fills `resolved`.
fn typed_value(
    st: &State,
    def: &Value,
    value: &Value,
    resolved: &mut Map<String, Value>,
) -> Result<Value, String> {
    let name = def["name"].as_str().unwrap_or_default();
    let kind = def["type"].as_u64().unwrap_or(3);
    let as_id = || -> Result<u64, String> {
        value
            .as_u64()
            .or_else(|| value.as_str()?.parse().ok())
            .ok_or_else(|| format!("option {name}: {value} is not a snowflake"))
    };
    let mut add = |kind: &str, id: u64, obj: Value| {
        let entry = resolved.entry(kind).or_insert_with(|| json!({}));
        entry[id.to_string()] = obj;
    };
    let v = match kind {
        3 => json!(value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string)),
        4 => json!(value
            .as_i64()
            .or_else(|| value.as_str()?.parse().ok())
            .ok_or_else(|| format!("option {name}: {value} is not an integer"))?),
        10 => json!(value
            .as_f64()
            .or_else(|| value.as_str()?.parse().ok())
            .ok_or_else(|| format!("option {name}: {value} is not a number"))?),
        5 => json!(value
            .as_bool()
            .ok_or_else(|| format!("option {name}: {value} is not a boolean"))?),
        6 | 9 => {
            let id = as_id()?;
            add("users", id, payloads::user(id, &format!("user{id}"), false));
            add("members", id, payloads::partial_member());
            json!(id.to_string())
        }
        7 => {
            let id = as_id()?;
            let ch = st
                .channels
                .get(&id)
                .ok_or_else(|| format!("option {name}: unknown channel {id}"))?;
            add("channels", id, payloads::partial_channel(ch));
            json!(id.to_string())
        }
        8 => {
            let id = as_id()?;
            add("roles", id, payloads::role(id));
            json!(id.to_string())
        }
        other => return Err(format!("option {name}: type {other} is not supported")),
    };
    if let Some(choices) = def["choices"].as_array().filter(|c| !c.is_empty()) {
        if !choices.iter().any(|c| c["value"] == v) {
            return Err(format!(
                "option {name}: {v} is not one of the choices {choices:?}"
            ));
        }
    }
    Ok(v)
}

pub(super) fn slash(st: &mut State, s: &Slash, focused: Option<&str>) -> Result<Sent, Fail> {
    if st.gateway.session.is_none() && st.http_delivery.is_none() {
        return Err(Fail::NotYet(
            "no gateway session (has the bot identified?)".into(),
        ));
    }
    let Some(def) = registered(st, &s.command).cloned() else {
        return Err(Fail::NotYet(format!(
            "command /{} is not registered",
            s.command
        )));
    };
    let channel = st
        .channels
        .get(&s.channel_id)
        .cloned()
        .ok_or_else(|| Fail::Invalid(format!("unknown channel {}", s.channel_id)))?;
    let (defs, trail) = leaf_options(&def, s)?;
    let mut resolved = Map::new();
    let options = option_values(st, s, &defs, focused, &mut resolved)?;
    let mut options = Value::Array(options);
    for (name, kind) in trail.into_iter().rev() {
        options = json!([{"name": name, "type": kind, "options": options}]);
    }
    let mut data = json!({
        "id": def["id"],
        "name": s.command,
        "type": 1,
        "options": options,
    });
    if let Some(g) = def.get("guild_id") {
        data["guild_id"] = g.clone();
    }
    if !resolved.is_empty() {
        data["resolved"] = Value::Object(resolved);
    }
    let kind = if focused.is_some() { 4 } else { 2 };
    Ok(send(st, kind, &channel, &s.member, data, None))
}

/// The (name, type) of each subcommand group and subcommand on the way
/// from a command to the subcommand a slash names.
type Trail = Vec<(String, u64)>;

/// Walks "group sub" of the slash down the command's definition: the
/// option definitions of the leaf, and the trail to it.
fn leaf_options(def: &Value, s: &Slash) -> Result<(Vec<Value>, Trail), Fail> {
    let path: Vec<&str> = s
        .subcommand
        .as_deref()
        .map_or(Vec::new(), |p| p.split(' ').collect());
    let mut leaf = def.clone();
    let mut trail = Vec::new();
    for part in &path {
        let next = option_defs(&leaf)
            .into_iter()
            .find(|o| o["name"] == *part && matches!(o["type"].as_u64(), Some(1 | 2)))
            .ok_or_else(|| Fail::Invalid(format!("/{}: no subcommand {part}", s.command)))?;
        trail.push((part.to_string(), next["type"].as_u64().unwrap_or(1)));
        leaf = next;
    }
    let defs = option_defs(&leaf);
    if defs
        .iter()
        .any(|o| matches!(o["type"].as_u64(), Some(1 | 2)))
    {
        return Err(Fail::Invalid(format!(
            "/{}: a subcommand is required",
            s.command
        )));
    }
    Ok((defs, trail))
}

/// The slash's options as Discord sends them (the focused one as typed
/// text), checked against the leaf's definitions `defs`: every option
/// known, and every required one given (a focused option must have a value
/// instead).
fn option_values(
    st: &State,
    s: &Slash,
    defs: &[Value],
    focused: Option<&str>,
    resolved: &mut Map<String, Value>,
) -> Result<Vec<Value>, Fail> {
    let mut options = Vec::new();
    for (name, value) in &s.options {
        let d = defs
            .iter()
            .find(|o| o["name"] == name.as_str())
            .ok_or_else(|| Fail::Invalid(format!("/{}: no option {name}", s.command)))?;
        let mut o = json!({"name": name, "type": d["type"]});
        if focused == Some(name.as_str()) {
            // The text typed so far, always a string.
            o["value"] = json!(value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string));
            o["focused"] = json!(true);
        } else {
            o["value"] = typed_value(st, d, value, resolved).map_err(Fail::Invalid)?;
        }
        options.push(o);
    }
    if let Some(f) = focused {
        if !s.options.iter().any(|(n, _)| n == f) {
            return Err(Fail::Invalid(format!("focused option {f} has no value")));
        }
    } else {
        for d in defs.iter().filter(|d| d["required"] == true) {
            if !s.options.iter().any(|(n, _)| d["name"] == n.as_str()) {
                return Err(Fail::Invalid(format!(
                    "/{}: required option {} missing",
                    s.command, d["name"]
                )));
            }
        }
    }
    Ok(options)
}

/// A button click. `strict` is what Discord's client does (only enabled
/// components that exist); without it the click is sent as a stale client
/// or a forger would: any custom id, disabled or not.
pub(super) fn click(st: &mut State, c: &Click, strict: bool) -> Result<Sent, Fail> {
    if st.gateway.session.is_none() && st.http_delivery.is_none() {
        return Err(Fail::NotYet(
            "no gateway session (has the bot identified?)".into(),
        ));
    }
    let Some(msg) = st.messages.get(&c.message_id).map(|m| m.json.clone()) else {
        return Err(Fail::Invalid(format!("no stored message {}", c.message_id)));
    };
    let found = msg["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .find(|comp| comp["custom_id"] == c.custom_id.as_str());
    let component = match found {
        Some(component) => component,
        None if !strict => json!({"type": 2}),
        None => {
            return Err(Fail::Invalid(format!(
                "message {} has no component {:?}: {}",
                c.message_id, c.custom_id, msg["components"]
            )))
        }
    };
    if strict && component["disabled"] == true {
        return Err(Fail::Invalid(format!(
            "component {:?} is disabled",
            c.custom_id
        )));
    }
    let kind = component["type"].as_u64().unwrap_or(2);
    let mut data = json!({"custom_id": c.custom_id, "component_type": kind});
    if kind != 2 {
        data["values"] = json!(c.values);
    }
    let channel_id: u64 = msg["channel_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let channel = st
        .channels
        .get(&channel_id)
        .cloned()
        .ok_or_else(|| Fail::Invalid(format!("message in unknown channel {channel_id}")))?;
    let mut sent_data = data;
    sent_data["resolved"] = json!({});
    let sent = send(
        st,
        3,
        &channel,
        &c.member,
        sent_data,
        Some((c.message_id, msg)),
    );
    Ok(sent)
}

fn send(
    st: &mut State,
    kind: u64,
    channel: &Value,
    member: &super::Member,
    data: Value,
    message: Option<(u64, Value)>,
) -> Sent {
    let id = snowflake();
    let token = format!("emu-token-{id}-{}", st.interactions.len());
    let mut payload = payloads::interaction(id, kind, &token, channel, member, data);
    if let Some((_, m)) = &message {
        payload["message"] = m.clone();
    }
    let channel_id = channel["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    st.interactions.insert(
        id,
        Interaction {
            token: token.clone(),
            kind,
            channel_id,
            message_id: message.map(|(mid, _)| mid),
            created: Instant::now(),
            delivered_at: None,
            responded: None,
            original: None,
            followups: Vec::new(),
            choices: None,
        },
    );
    st.tokens.insert(token.clone(), id);
    if st.http_delivery.is_some() {
        st.outbox.push(super::delivery::Outgoing {
            id,
            token: token.clone(),
            payload,
        });
    } else {
        st.dispatch("INTERACTION_CREATE", payload, Some(id));
    }
    Sent {
        interaction_id: id,
        token,
        at: Instant::now(),
    }
}
