//! Who a message would notify on Discord: the mentions in its `content`
//! (`@everyone`, `@here`, `<@id>`, `<@!id>`, `<@&role>`) that its
//! `allowed_mentions` let through. Without `allowed_mentions` Discord
//! notifies every mention it parses (a bot with *Mention Everyone* pings
//! the whole server with `@everyone`). Embeds never notify.

use serde_json::Value;

use super::Recorded;

/// Whom a message notifies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notified {
    /// `@everyone` or `@here` would notify.
    pub everyone: bool,
    pub users: Vec<u64>,
    pub roles: Vec<u64>,
}

impl Notified {
    pub fn is_empty(&self) -> bool {
        !self.everyone && self.users.is_empty() && self.roles.is_empty()
    }
}

/// The content and allowed mentions a request sends, for the requests that
/// create or edit a message (channel messages, interaction responses,
/// follow-ups and their edits); `None` for any other request.
fn message_of(r: &Recorded) -> Option<(&str, Option<&Value>)> {
    let json = r.json.as_ref()?;
    let p = r.path.as_str();
    let body = if p.contains("/interactions/") && p.ends_with("/callback") {
        json.get("data")?
    } else if (p.starts_with("/api/v10/channels/") && p.contains("/messages"))
        || p.starts_with("/api/v10/webhooks/")
    {
        json
    } else {
        return None;
    };
    let content = body.get("content")?.as_str()?;
    Some((content, body.get("allowed_mentions")))
}

/// Who `r` would notify; `None` if it sends no message text.
pub fn notified(r: &Recorded) -> Option<Notified> {
    let (content, allowed) = message_of(r)?;
    let (everyone, users, roles) = parse(content);
    let parse_list: Vec<&str> = match allowed {
        None => vec!["everyone", "users", "roles"],
        Some(a) => a["parse"]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default(),
    };
    let listed = |key: &str| -> Vec<u64> {
        allowed
            .and_then(|a| a[key].as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (user_list, role_list) = (listed("users"), listed("roles"));
    Some(Notified {
        everyone: everyone && parse_list.contains(&"everyone"),
        users: users
            .into_iter()
            .filter(|u| parse_list.contains(&"users") || user_list.contains(u))
            .collect(),
        roles: roles
            .into_iter()
            .filter(|r| parse_list.contains(&"roles") || role_list.contains(r))
            .collect(),
    })
}

/// The mentions written in `content`: (@everyone/@here, users, roles).
fn parse(content: &str) -> (bool, Vec<u64>, Vec<u64>) {
    let everyone = content.contains("@everyone") || content.contains("@here");
    let (mut users, mut roles) = (Vec::new(), Vec::new());
    let mut rest = content;
    while let Some(at) = rest.find("<@") {
        rest = &rest[at + 2..];
        let (role, digits_from) = match rest.as_bytes().first() {
            Some(b'&') => (true, 1),
            Some(b'!') => (false, 1),
            _ => (false, 0),
        };
        let tail = &rest[digits_from..];
        let end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        if end > 0 && tail[end..].starts_with('>') {
            if let Ok(id) = tail[..end].parse() {
                if role {
                    roles.push(id);
                } else {
                    users.push(id);
                }
            }
        }
    }
    (everyone, users, roles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Instant;

    fn post(json: Value) -> Recorded {
        Recorded {
            method: "POST".into(),
            path: "/api/v10/channels/1/messages".into(),
            query: String::new(),
            json: Some(json),
            files: vec![],
            status: 200,
            at: Instant::now(),
        }
    }

    #[test]
    fn allowed_mentions_decide_who_is_notified() {
        let text = "@everyone <@&5> <@7> <@!8> <@x>";
        let all = notified(&post(json!({"content": text}))).unwrap();
        assert_eq!(
            all,
            Notified {
                everyone: true,
                users: vec![7, 8],
                roles: vec![5]
            }
        );
        let none = notified(&post(
            json!({"content": text, "allowed_mentions": {"parse": []}}),
        ))
        .unwrap();
        assert!(none.is_empty(), "{none:?}");
        let exact = notified(&post(json!({"content": text,
            "allowed_mentions": {"parse": [], "users": ["8"], "roles": ["5"]}})))
        .unwrap();
        assert_eq!(
            exact,
            Notified {
                everyone: false,
                users: vec![8],
                roles: vec![5]
            }
        );
    }
}
