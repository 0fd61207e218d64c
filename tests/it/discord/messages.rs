//! Message and thread semantics shared by the channel and webhook routes:
//! building a message from a create/edit payload plus multipart uploads the
//! way Discord does (attachments kept, added or dropped per the `attachments`
//! list, `attachment://` embed URLs resolved), storing it, and threads.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::payloads::{self, form_error};
use super::state::{now_iso, snowflake, State, StoredAttachment, StoredMessage};
use super::{validate, GUILD_ID};

/// One `files[N]` part of a multipart request.
pub(super) struct Upload {
    pub index: Option<u64>,
    pub filename: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

const EPHEMERAL: u64 = 1 << 6;
const SUPPRESS_EMBEDS: u64 = 1 << 2;
const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;
pub(super) const LOADING: u64 = 1 << 7;

/// A message built from a payload, not yet stored.
pub(super) struct Composed {
    pub json: Value,
    new_attachments: Vec<(u64, StoredAttachment)>,
}

fn id_of(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// Applies a create (`old` is a skeleton from `payloads::message`) or an
/// edit payload.
pub(super) fn compose(
    base: &str,
    old: &Value,
    payload: &Value,
    uploads: &[Upload],
    editing: bool,
) -> Composed {
    let mut m = old.clone();
    let old_flags = old["flags"].as_u64().unwrap_or(0);
    apply_fields(&mut m, payload);
    let flags = new_flags(old_flags, payload, editing);
    m["flags"] = json!(flags);

    let mut files = Files {
        base,
        channel_id: id_of(&m["channel_id"]).unwrap_or(0),
        ephemeral: flags & EPHEMERAL != 0,
        list: Vec::new(),
        new: Vec::new(),
    };
    let existing: Vec<Value> = old["attachments"].as_array().cloned().unwrap_or_default();
    let entries = payload.get("attachments").and_then(Value::as_array);
    files.arrange(existing, entries, uploads);
    resolve_attachment_urls(&mut m["embeds"], &files.list);
    m["attachments"] = Value::Array(files.list);
    if editing && old_flags & LOADING == 0 {
        m["edited_timestamp"] = json!(now_iso());
    }
    Composed {
        json: m,
        new_attachments: files.new,
    }
}

/// Content, embeds (typed `rich` unless said, nulls dropped), components
/// and `tts` as the payload sets them; absent fields stay as they were.
fn apply_fields(m: &mut Value, payload: &Value) {
    if let Some(c) = payload.get("content") {
        m["content"] = json!(c.as_str().unwrap_or(""));
    }
    if let Some(e) = payload.get("embeds") {
        let embeds: Vec<Value> = e.as_array().cloned().unwrap_or_default();
        m["embeds"] = Value::Array(
            embeds
                .into_iter()
                .map(|mut e| {
                    if e.get("type").is_none() {
                        e["type"] = json!("rich");
                    }
                    payloads::strip_nulls(&e)
                })
                .collect(),
        );
    }
    if let Some(c) = payload.get("components") {
        m["components"] = json!(c.as_array().cloned().unwrap_or_default());
    }
    if let Some(tts) = payload.get("tts").and_then(Value::as_bool) {
        m["tts"] = json!(tts);
    }
}

/// The message's flags after the payload: LOADING always cleared, and only
/// the flags the payload may set changed.
fn new_flags(old_flags: u64, payload: &Value, editing: bool) -> u64 {
    let mut flags = old_flags & !LOADING;
    if let Some(new) = payload.get("flags").and_then(Value::as_u64) {
        // On edit only SUPPRESS_EMBEDS may change; ephemerality is fixed
        // (for a deferred response, by the defer).
        let settable = if editing {
            SUPPRESS_EMBEDS
        } else {
            SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS
        };
        flags = (flags & !settable) | (new & settable);
    }
    flags
}

/// The attachment list of a message being composed, and the uploads it
/// stores.
struct Files<'a> {
    base: &'a str,
    channel_id: u64,
    ephemeral: bool,
    list: Vec<Value>,
    new: Vec<(u64, StoredAttachment)>,
}

impl Files<'_> {
    /// With an `attachments` list, the message has exactly the listed
    /// existing attachments and uploads (then any unlisted upload);
    /// without one, it keeps what it had and adds every upload.
    fn arrange(&mut self, existing: Vec<Value>, entries: Option<&Vec<Value>>, uploads: &[Upload]) {
        let Some(entries) = entries else {
            self.list = existing;
            for up in uploads {
                self.add(up, None);
            }
            return;
        };
        let mut used = HashSet::new();
        for e in entries {
            let keep = existing
                .iter()
                .find(|a| a["id"] == e["id"] && e["id"].is_string());
            if let Some(a) = keep {
                self.list.push(a.clone());
            } else if let Some(up) =
                id_of(&e["id"]).and_then(|i| uploads.iter().find(|u| u.index == Some(i)))
            {
                used.insert(up.index);
                self.add(up, Some(e));
            }
        }
        for up in uploads.iter().filter(|u| !used.contains(&u.index)) {
            self.add(up, None);
        }
    }

    /// Adds upload `up`, named and described by its `attachments` entry if
    /// it has one.
    fn add(&mut self, up: &Upload, entry: Option<&Value>) {
        let id = snowflake();
        let filename = entry
            .and_then(|e| e["filename"].as_str())
            .unwrap_or(&up.filename)
            .to_string();
        let ctype = up
            .content_type
            .clone()
            .unwrap_or_else(|| guess_type(&filename));
        self.list.push(payloads::attachment(
            self.base,
            self.channel_id,
            id,
            &filename,
            &ctype,
            &up.data,
            entry.map(|e| &e["description"]),
            self.ephemeral,
        ));
        self.new.push((
            id,
            StoredAttachment {
                filename,
                content_type: ctype,
                data: up.data.clone(),
            },
        ));
    }
}

/// `attachment://name` in embed images, thumbnails and icons becomes the
/// attachment's URL, with its size, as Discord answers.
fn resolve_attachment_urls(embeds: &mut Value, attachments: &[Value]) {
    let Some(embeds) = embeds.as_array_mut() else {
        return;
    };
    for e in embeds {
        for (key, field) in [
            ("image", "url"),
            ("thumbnail", "url"),
            ("footer", "icon_url"),
            ("author", "icon_url"),
        ] {
            let Some(name) = e[key][field]
                .as_str()
                .and_then(|u| u.strip_prefix("attachment://"))
            else {
                continue;
            };
            let Some(a) = attachments.iter().find(|a| a["filename"] == name) else {
                continue;
            };
            let obj = &mut e[key];
            obj[field] = a["url"].clone();
            if field == "url" {
                obj["proxy_url"] = a["proxy_url"].clone();
                for dim in ["width", "height"] {
                    if let Some(d) = a.get(dim) {
                        obj[dim] = d.clone();
                    }
                }
            } else {
                obj[format!("proxy_{field}")] = a["proxy_url"].clone();
            }
        }
    }
}

fn guess_type(filename: &str) -> String {
    let ext = filename
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "txt" | "log" => "text/plain; charset=utf-8",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
    .to_string()
}

impl State {
    /// Validates and stores a composed message; returns its JSON.
    pub fn commit(&mut self, c: Composed, from_channel_post: bool) -> Result<Value, Value> {
        validate::message(&c.json)?;
        self.attachments.extend(c.new_attachments);
        self.store_raw(c.json.clone(), from_channel_post);
        Ok(c.json)
    }

    /// Stores (or replaces) a message as is; returns its id.
    pub fn store_raw(&mut self, json: Value, from_channel_post: bool) -> u64 {
        let id = id_of(&json["id"]).expect("message id");
        let channel_id = id_of(&json["channel_id"]).expect("channel id");
        let new = !self.messages.contains_key(&id);
        self.messages.insert(
            id,
            StoredMessage {
                json,
                from_channel_post,
            },
        );
        if let (true, Some(ch)) = (new, self.channels.get_mut(&channel_id)) {
            ch["last_message_id"] = json!(id.to_string());
            if ch.get("message_count").is_some() {
                for key in ["message_count", "total_message_sent"] {
                    ch[key] = json!(ch[key].as_u64().unwrap_or(0) + 1);
                }
            }
        }
        id
    }

    /// POST /channels/{parent}/threads (`from_message` None) or
    /// /channels/{parent}/messages/{id}/threads. A thread started from a
    /// message has the message's id, as on Discord.
    pub fn create_thread(
        &mut self,
        parent: u64,
        payload: &Value,
        from_message: Option<u64>,
    ) -> Result<Value, (u16, Value)> {
        let Some(p) = self.channels.get(&parent) else {
            return Err((404, payloads::error(10003, "Unknown Channel")));
        };
        if !matches!(p["type"].as_u64(), Some(0 | 5)) {
            return Err((
                400,
                payloads::error(50024, "Cannot execute action on this channel type"),
            ));
        }
        let name = payload["name"].as_str().unwrap_or("");
        if !(1..=100).contains(&name.chars().count()) {
            let e = form_error(
                "name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
            return Err((400, e));
        }
        let archive = payload["auto_archive_duration"].as_u64().unwrap_or(1440);
        if ![60, 1440, 4320, 10080].contains(&archive) {
            let e = form_error(
                "auto_archive_duration",
                "BASE_TYPE_CHOICES",
                "Value must be one of {60, 1440, 4320, 10080}.",
            );
            return Err((400, e));
        }
        let (id, kind) = match from_message {
            Some(mid) => {
                let Some(m) = self
                    .messages
                    .get(&mid)
                    .filter(|m| m.json["channel_id"] == parent.to_string().as_str())
                else {
                    return Err((404, payloads::error(10008, "Unknown Message")));
                };
                if m.json.get("thread").is_some() {
                    return Err((
                        400,
                        payloads::error(
                            160004,
                            "A thread has already been created for this message",
                        ),
                    ));
                }
                (mid, 11)
            }
            // Discord's documented default for a thread without a message
            // is a private thread.
            None => (snowflake(), payload["type"].as_u64().unwrap_or(12)),
        };
        if !matches!(kind, 11 | 12) {
            let e = form_error(
                "type",
                "BASE_TYPE_CHOICES",
                "Value must be one of {11, 12}.",
            );
            return Err((400, e));
        }
        let t = payloads::thread(id, parent, name, kind, archive);
        self.channels.insert(id, t.clone());
        if let Some(m) = from_message.and_then(|mid| self.messages.get_mut(&mid)) {
            m.json["thread"] = t.clone();
        }
        let mut event = t.clone();
        event["newly_created"] = json!(true);
        event["guild_id"] = json!(GUILD_ID.to_string());
        self.dispatch("THREAD_CREATE", event, None);
        Ok(t)
    }
}
