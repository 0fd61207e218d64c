//! JSON shapes of the Discord objects the emulator emits (users, members,
//! channels, messages, attachments, commands, READY, interactions). Fields
//! serenity 0.12.5 requires are always present; `tests.rs` deserializes each
//! builder's output with serenity's model types.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::state::now_iso;
use super::{
    Member, APP_ID, BOT_NAME, BOT_USER_ID, GUILD_ID, INCIDENT_CHANNEL_ID, OTHER_CHANNEL_ID,
    THREAD_ID,
};

/// ADMINISTRATOR-free but generous member permissions (view, send, embed,
/// attach, threads, ...), as Discord sends them: a decimal string.
pub(super) const MEMBER_PERMISSIONS: &str = "563224831328832";
/// What the bot may do in every channel.
pub(super) const APP_PERMISSIONS: &str = "563224831328832";
pub(super) const ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

pub(super) fn user(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": if bot { Value::Null } else { json!(name) },
        "avatar": null,
        "bot": bot,
        "system": false,
        "public_flags": 0,
        "flags": 0,
    })
}

pub(super) fn bot_user() -> Value {
    let mut u = user(BOT_USER_ID, BOT_NAME, true);
    u["verified"] = json!(true);
    u["mfa_enabled"] = json!(false);
    u
}

/// A guild member as interactions carry it (`deaf`, `mute` and `flags` are
/// required by serenity).
pub(super) fn member(m: &Member) -> Value {
    json!({
        "user": user(m.user_id, &m.name, false),
        "nick": null,
        "avatar": null,
        "roles": m.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "permissions": MEMBER_PERMISSIONS,
        "communication_disabled_until": null,
    })
}

/// A resolved member (interaction `resolved.members`): no `user`, no
/// `deaf`/`mute`.
pub(super) fn partial_member() -> Value {
    json!({
        "roles": [],
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "nick": null,
        "flags": 0,
        "permissions": MEMBER_PERMISSIONS,
    })
}

/// A role (`colors.primary_color` is required by serenity).
pub(super) fn role(id: u64) -> Value {
    json!({
        "id": id.to_string(),
        "name": format!("role-{id}"),
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": 1,
        "permissions": "0",
        "managed": false,
        "mentionable": false,
        "flags": 0,
    })
}

pub(super) fn text_channel(id: u64, name: &str, position: u64) -> Value {
    json!({
        "id": id.to_string(),
        "type": 0,
        "guild_id": GUILD_ID.to_string(),
        "name": name,
        "position": position,
        "parent_id": null,
        "topic": null,
        "nsfw": false,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "permission_overwrites": [],
        "flags": 0,
    })
}

/// A thread channel (type 11 public, 12 private) as Discord returns it.
pub(super) fn thread(id: u64, parent: u64, name: &str, kind: u64, archive_minutes: u64) -> Value {
    let now = now_iso();
    json!({
        "id": id.to_string(),
        "type": kind,
        "guild_id": GUILD_ID.to_string(),
        "parent_id": parent.to_string(),
        "owner_id": BOT_USER_ID.to_string(),
        "name": name,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": archive_minutes,
            "archive_timestamp": now,
            "locked": false,
            "create_timestamp": now,
        },
    })
}

/// The fixed channels of the guild.
pub(super) fn world_channels() -> BTreeMap<u64, Value> {
    let mut t = thread(THREAD_ID, INCIDENT_CHANNEL_ID, "incident-thread", 11, 1440);
    t["owner_id"] = json!("1100000000000000099");
    BTreeMap::from([
        (
            INCIDENT_CHANNEL_ID,
            text_channel(INCIDENT_CHANNEL_ID, "incidents", 0),
        ),
        (
            OTHER_CHANNEL_ID,
            text_channel(OTHER_CHANNEL_ID, "general", 1),
        ),
        (THREAD_ID, t),
    ])
}

/// The partial channel an interaction carries: type and parent_id let a bot
/// tell a thread of the incident channel from elsewhere.
pub(super) fn partial_channel(channel: &Value) -> Value {
    let mut c = json!({
        "id": channel["id"],
        "name": channel["name"],
        "type": channel["type"],
        "guild_id": GUILD_ID.to_string(),
        "parent_id": channel["parent_id"],
        "permissions": APP_PERMISSIONS,
        "flags": 0,
    });
    if let Some(meta) = channel.get("thread_metadata") {
        c["thread_metadata"] = meta.clone();
    }
    c
}

/// A message skeleton by the bot; `compose` fills content and the rest.
pub(super) fn message(id: u64, channel_id: u64, kind: u64, webhook: bool) -> Value {
    let mut m = json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": bot_user(),
        "content": "",
        "timestamp": now_iso(),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": kind,
        "flags": 0,
    });
    if webhook {
        m["webhook_id"] = json!(APP_ID.to_string());
        m["application_id"] = json!(APP_ID.to_string());
    }
    m
}

/// An attachment as Discord lists it on a message.
#[allow(clippy::too_many_arguments)]
pub(super) fn attachment(
    base: &str,
    channel_id: u64,
    id: u64,
    filename: &str,
    content_type: &str,
    data: &[u8],
    description: Option<&Value>,
    ephemeral: bool,
) -> Value {
    let url = format!("{base}/attachments/{channel_id}/{id}/{filename}");
    let mut a = json!({
        "id": id.to_string(),
        "filename": filename,
        "size": data.len(),
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    });
    if let Some((w, h)) = png_size(data) {
        a["width"] = json!(w);
        a["height"] = json!(h);
    }
    if let Some(d) = description.filter(|d| d.is_string()) {
        a["description"] = d.clone();
    }
    if ephemeral {
        a["ephemeral"] = json!(true);
    }
    a
}

/// Width and height from a PNG's IHDR chunk, as Discord reports image sizes.
pub(super) fn png_size(data: &[u8]) -> Option<(u32, u32)> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if data.len() < 24 || &data[..8] != SIG || &data[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&data[16..20]), be(&data[20..24])))
}

/// READY (serenity requires `resume_gateway_url` and `application`).
pub(super) fn ready(session_id: &str, gateway_url: &str, shard: Option<&Value>) -> Value {
    let mut r = json!({
        "v": 10,
        "user": bot_user(),
        "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": gateway_url,
        "application": {"id": APP_ID.to_string(), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "_trace": ["[\"discord-emulator\"]"],
    });
    if let Some(s) = shard.filter(|s| s.is_array()) {
        r["shard"] = s.clone();
    }
    r
}

/// GUILD_CREATE as Discord sends it after READY: the guild with its roles,
/// channels, active threads and (with only the GUILDS intent) the bot as its
/// one member.
pub(super) fn guild_create(channels: &BTreeMap<u64, Value>) -> Value {
    let (threads, channels): (Vec<Value>, Vec<Value>) = channels
        .values()
        .cloned()
        .partition(|c| matches!(c["type"].as_u64(), Some(10..=12)));
    let mut everyone = role(GUILD_ID);
    everyone["name"] = json!("@everyone");
    everyone["position"] = json!(0);
    let mut me = member(&Member::new(BOT_USER_ID, BOT_NAME));
    me["user"] = bot_user();
    // Two halves: one json! this size exceeds the macro recursion limit.
    let mut g = json!({
        "id": GUILD_ID.to_string(),
        "name": "Incident HQ",
        "icon": null, "icon_hash": null, "splash": null, "discovery_splash": null, "banner": null,
        "owner_id": "1100000000000000099",
        "afk_channel_id": null,
        "afk_timeout": 300,
        "widget_enabled": false,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": [everyone],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "public_updates_channel_id": null,
        "safety_alerts_channel_id": null,
    });
    let rest = json!({
        "max_members": 500_000,
        "vanity_url_code": null,
        "description": null,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": false,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "incidents_data": null,
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "large": false,
        "unavailable": false,
        "lazy": true,
        "member_count": 2,
        "members": [me],
        "channels": channels,
        "threads": threads,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    });
    if let (Some(g), Value::Object(rest)) = (g.as_object_mut(), rest) {
        g.extend(rest);
    }
    g
}

/// The fields every guild interaction carries (type, data and token aside).
pub(super) fn interaction(
    id: u64,
    kind: u64,
    token: &str,
    channel: &Value,
    m: &Member,
    data: Value,
) -> Value {
    json!({
        "id": id.to_string(),
        "application_id": APP_ID.to_string(),
        "type": kind,
        "data": data,
        "guild_id": GUILD_ID.to_string(),
        "guild": {"id": GUILD_ID.to_string(), "locale": "en-US", "features": []},
        "channel_id": channel["id"],
        "channel": partial_channel(channel),
        "member": member(m),
        "token": token,
        "version": 1,
        "app_permissions": APP_PERMISSIONS,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
        "context": 0,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    })
}

/// Removes `null` members everywhere: serenity sends explicit nulls for unset
/// command limits, Discord leaves them out of its answers.
pub(super) fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// A registered command as Discord answers it (ids, `version`, defaults).
pub(super) fn command(input: &Value, id: u64, version: u64, guild: Option<u64>) -> Value {
    let mut c = strip_nulls(input);
    let kind = c.get("type").and_then(Value::as_u64).unwrap_or(1);
    c["id"] = json!(id.to_string());
    c["type"] = json!(kind);
    c["application_id"] = json!(APP_ID.to_string());
    c["version"] = json!(version.to_string());
    c.as_object_mut().map(|o| o.remove("guild_id"));
    if let Some(g) = guild {
        c["guild_id"] = json!(g.to_string());
    }
    for (key, default) in [
        ("description", json!("")),
        ("options", json!([])),
        ("default_member_permissions", Value::Null),
        ("nsfw", json!(false)),
        ("integration_types", json!([0])),
        ("contexts", Value::Null),
    ] {
        if c.get(key).is_none() {
            c[key] = default;
        }
    }
    c
}

pub(super) fn application_info() -> Value {
    json!({
        "id": APP_ID.to_string(),
        "name": BOT_NAME,
        "icon": null,
        "description": "",
        "bot_public": false,
        "bot_require_code_grant": false,
        "owner": user(1_100_000_000_000_000_099, "owner", false),
        "verify_key": "0".repeat(64),
        "team": null,
        "flags": 0,
        "bot": bot_user(),
        "summary": "",
    })
}

pub(super) fn gateway_bot(url: &str) -> Value {
    json!({
        "url": url,
        "shards": 1,
        "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1
        },
    })
}

/// A Discord JSON error body.
pub(super) fn error(code: u64, message: &str) -> Value {
    json!({"message": message, "code": code})
}

/// Discord's "Invalid Form Body" (50035) with one error at a dotted path.
pub(super) fn form_error(path: &str, code: &str, message: &str) -> Value {
    let mut errors = json!({"_errors": [{"code": code, "message": message}]});
    for key in path.rsplit('.').filter(|k| !k.is_empty()) {
        errors = json!({ key: errors });
    }
    json!({"message": "Invalid Form Body", "code": 50035, "errors": errors})
}
