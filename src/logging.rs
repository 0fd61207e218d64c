//! The process's log: `tracing` to stderr, with every line passed through
//! [`redact`] on its way out.
//!
//! Secrets must never reach a log at any level, including the levels of
//! the libraries underneath: serenity's request spans name interaction
//! tokens (valid for 15 minutes: enough to answer as the bot), a trace of
//! the gateway carries them in event payloads, and a URL or header can
//! carry the bot token or a database password. Filtering by level cannot
//! promise that, so the writer itself redacts: the secret values the
//! process was given (registered by [`register_secret`]) and anything that
//! has the shape of a token wherever it appears.

use std::io::Write;
use std::sync::RwLock;

/// Values that must never be written, whatever their context.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shorter values could match ordinary text; nothing the bot is given as a
/// secret is that short.
const MIN_SECRET_LEN: usize = 6;

/// Adds `value` (and, for a URL, the password inside it) to what is
/// redacted from every log line from now on.
pub fn register_secret(value: &str) {
    let mut found = vec![value.to_string()];
    if let Some(pw) = url_password(value) {
        found.push(pw.to_string());
    }
    if let Ok(mut secrets) = SECRETS.write() {
        for v in found {
            if v.len() >= MIN_SECRET_LEN && !secrets.contains(&v) {
                secrets.push(v);
            }
        }
        // Longest first, so a secret containing another is cut whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `pass` in `scheme://user:pass@host…`.
fn url_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let userinfo = &rest[..rest.find('@')?];
    let pw = &userinfo[userinfo.find(':')? + 1..];
    (!pw.is_empty()).then_some(pw)
}

/// Installs the subscriber: `RUST_LOG` if set, else `default_filter`.
pub fn init(default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for people at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(|| Redacting(Vec::with_capacity(256)))
        .try_init();
}

/// Collects one event's bytes and writes them redacted to stderr when the
/// subscriber is done with it (one writer per event).
struct Redacting(Vec<u8>);

impl Write for Redacting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Redacting {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        let secrets = SECRETS.read().map(|s| s.clone()).unwrap_or_default();
        let _ = std::io::stderr().write_all(redact(&text, &secrets).as_bytes());
    }
}

const REDACTED: &str = "[redacted]";

/// `text` without `secrets` and without anything shaped like a token: the
/// path segment after `/interactions/<id>/` or `/webhooks/<id>/`, and the
/// value of any field whose name ends in token, password, secret or
/// authorization (`token: "…"`, `"token":"…"`, `token=…`, escaped JSON
/// inside a string too).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= MIN_SECRET_LEN) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    for marker in ["/interactions/", "/webhooks/"] {
        out = redact_path_tokens(&out, marker);
    }
    redact_fields(&out)
}

/// `…/interactions/123/<token>/callback` → `…/interactions/123/[redacted]/callback`.
fn redact_path_tokens(text: &str, marker: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let after = at + marker.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || !rest[digits..].starts_with('/') {
            continue;
        }
        out.push_str(&rest[..=digits]);
        rest = &rest[digits + 1..];
        let end = rest
            .find(|c: char| {
                matches!(c, '/' | '?' | '"' | '\\' | '\'' | ')' | ',') || c.is_whitespace()
            })
            .unwrap_or(rest.len());
        if end > 0 && &rest[..end] != REDACTED {
            out.push_str(REDACTED);
        } else {
            out.push_str(&rest[..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Field names whose values are secret wherever they appear.
const SECRET_FIELDS: [&str; 4] = ["token", "password", "secret", "authorization"];

fn redact_fields(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Bytes, not str slices: `i` walks bytes and may sit inside a
        // multi-byte character; a match is ASCII, so it never does.
        let Some(name) = SECRET_FIELDS
            .iter()
            .find(|f| lower.as_bytes()[i..].starts_with(f.as_bytes()))
        else {
            i += 1;
            continue;
        };
        // The name may continue (`interaction_token`, `tokens`) only if it
        // is then a different word: `token_type` is not a secret, but
        // cutting it costs nothing, so only letters continue a word.
        let mut j = i + name.len();
        if bytes.get(j).is_some_and(|b| b.is_ascii_alphanumeric()) {
            i = j;
            continue;
        }
        while bytes
            .get(j)
            .is_some_and(|b| matches!(b, b'"' | b'\\' | b'\'' | b' '))
        {
            j += 1;
        }
        if !bytes.get(j).is_some_and(|b| matches!(b, b':' | b'=')) {
            i = j.max(i + 1);
            continue;
        }
        j += 1;
        loop {
            let r = &text[j..];
            if let Some(x) = ["Some(", "\\\"", "\"", "'", " ", "Bearer ", "Bot "]
                .iter()
                .find(|p| r.starts_with(**p))
            {
                j += x.len();
            } else {
                break;
            }
        }
        let end = text[j..]
            .find(|c: char| {
                matches!(c, '"' | '\\' | '\'' | ',' | '}' | ')' | '&' | ';' | ']')
                    || c.is_whitespace()
            })
            .map_or(text.len(), |e| j + e);
        if end > j && &text[j..end] != REDACTED && !text[j..end].starts_with('[') {
            out.push_str(&text[copied..j]);
            out.push_str(REDACTED);
            copied = end;
        }
        i = end.max(j).max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(
            redact(input, &["s3cret-bot-token".into()]),
            expected,
            "{input}"
        );
    }

    #[test]
    fn tokens_are_cut_wherever_they_appear() {
        check(
            "POST /api/v10/interactions/1234/aW50ZXJhY3Rpb24/callback",
            "POST /api/v10/interactions/1234/[redacted]/callback",
        );
        check(
            "PATCH http://x/api/v10/webhooks/99/emu-token-5-1/messages/@original",
            "PATCH http://x/api/v10/webhooks/99/[redacted]/messages/@original",
        );
        check(
            r#"create_interaction_response{interaction_id=5 interaction_token="abc.def-1"}"#,
            r#"create_interaction_response{interaction_id=5 interaction_token="[redacted]"}"#,
        );
        check(
            r#"{"id":"5","token":"abc","type":2}"#,
            r#"{"id":"5","token":"[redacted]","type":2}"#,
        );
        check(
            r#"frame Text("{\"token\":\"abc\",\"x\":1}")"#,
            r#"frame Text("{\"token\":\"[redacted]\",\"x\":1}")"#,
        );
        check(
            r#"CommandInteraction { token: "abc", locale: "en" }"#,
            r#"CommandInteraction { token: "[redacted]", locale: "en" }"#,
        );
        check("auth: Bot s3cret-bot-token ok", "auth: Bot [redacted] ok");
        check(
            "authorization: Bearer xyz1",
            "authorization: Bearer [redacted]",
        );
        check("password=hunter2 host=db", "password=[redacted] host=db");
        // Words that only look like the field names stay.
        check(
            "tokens left: none; token_bucket ok",
            "tokens left: none; token_bucket ok",
        );
        check("a token was refused", "a token was refused");
        check("[token] stays", "[token] stays");
        check("ünïcödé token: ä€ tail", "ünïcödé token: [redacted] tail");
    }

    #[test]
    fn registered_secrets_and_url_passwords_are_cut() {
        assert_eq!(
            url_password("postgres://bot:pa55word@db:5432/x"),
            Some("pa55word")
        );
        assert_eq!(url_password("postgres://db/x"), None);
        let secrets = vec!["pa55word".to_string()];
        assert_eq!(
            redact("connecting to postgres://bot:pa55word@db/x", &secrets),
            "connecting to postgres://bot:[redacted]@db/x"
        );
    }
}
