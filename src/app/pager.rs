//! The outgoing paging webhook, in PagerDuty Events API v2 form: a page is
//! a `trigger` event, acknowledging and resolving the incident send
//! `acknowledge` and `resolve`. Every event of an incident carries the same
//! `dedup_key`, so the paging service keeps one alert per incident and a
//! resent event (a retry after a lost answer) changes nothing there.
//!
//! 2xx is delivered; 429, 5xx and network failures are retried; any other
//! answer (a wrong routing key, a malformed event) cannot get better by
//! retrying and fails at once, said in the log.

use super::App;
use crate::core::incident::Incident;
use crate::core::runbook::Runbook;
use crate::store::Delivery;
use serde_json::json;
use std::sync::OnceLock;

/// The incident's key at the paging service: the same for every event.
pub fn dedup_key(guild: u64, incident: i64) -> String {
    format!("incident-bot/{guild}/incident-{incident}")
}

/// The event for delivery `d` of incident `inc`.
pub fn event(
    app: &App,
    d: &Delivery,
    inc: &Incident,
    rb: &Runbook,
    routing_key: &str,
) -> serde_json::Value {
    let key = dedup_key(app.settings.discord.guild_id, inc.id);
    if d.event != "trigger" {
        return json!({
            "routing_key": routing_key,
            "event_action": d.event,
            "dedup_key": key,
        });
    }
    let level = rb.severity(&d.severity);
    let severity = level.map_or("critical", |l| l.event_severity.as_str());
    let guild = app.settings.discord.guild_id;
    let thread = inc.thread_id.unwrap_or(inc.channel_id);
    let project = match &app.scope {
        crate::config::Scope::Project(p) => p.clone(),
        crate::config::Scope::All => "all containers".into(),
    };
    let source = app.watcher.host().map_or_else(
        || format!("incident-bot ({project})"),
        |h| format!("incident-bot on {h}"),
    );
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": crate::core::text::clip(
                &format!("Incident #{} [{}]: {}", inc.id, d.severity.to_uppercase(), inc.title),
                1024,
            ),
            "source": source,
            "severity": severity,
            "component": rb.id(),
            "group": project,
            "class": "memory incident",
            "custom_details": {
                "incident": inc.id,
                "page": d.seq + 1,
                "paged_role": d.role,
                "paged_user": d.user_id.map(|u| u.to_string()),
                "severity": d.severity,
                "delivery": d.id,
            },
        },
        "client": "incident-bot",
        "client_url": format!("https://discord.com/channels/{guild}/{thread}"),
    })
}

/// Sends delivery `d` to the webhook.
pub(super) async fn send(app: &App, d: &Delivery, inc: &Incident, rb: &Runbook) -> Sent {
    let (url, key) = match app.settings.secrets.paging_webhook() {
        Ok(Some(pair)) => pair,
        Ok(None) => return Sent::Never("no webhook is configured any more".into()),
        Err(e) => return Sent::Never(e.to_string()),
    };
    let body = event(app, d, inc, rb, key.expose()).to_string();
    let answer = http_client(app)
        .post(url.expose())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => Sent::Yes,
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let why = format!(
                "the webhook answered {status}: {}",
                crate::core::text::clip(text.trim(), 200)
            );
            if status.as_u16() == 429 || status.is_server_error() {
                Sent::Retry(why)
            } else {
                Sent::Never(why)
            }
        }
        // reqwest's error names the URL, which may hold a token: say what
        // happened without it.
        Err(e) if e.is_timeout() => Sent::Retry("the webhook did not answer in time".into()),
        Err(e) if e.is_connect() => Sent::Retry("the webhook could not be reached".into()),
        Err(_) => Sent::Retry("the webhook request failed".into()),
    }
}

/// How sending one delivery went.
pub(super) enum Sent {
    Yes,
    /// Not needed any more (the incident was acknowledged first).
    Cancelled(String),
    /// Failed; worth trying again.
    Retry(String),
    /// Failed in a way retrying cannot fix.
    Never(String),
}

/// The webhook's HTTP client, built once with the configured timeout.
pub(super) fn http_client(app: &App) -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(
                app.settings.paging.webhook_timeout_secs.max(1),
            ))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}
