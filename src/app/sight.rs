//! A bot that says when it is blind: once a second it looks at what it can
//! see (the Docker engine answers, the watcher completes rounds, its
//! database answers); whatever has failed for `paging.blind_after_secs` is
//! said once in the incident channel (`core::paging::blind` decides), and
//! said again when it is back. Messages go over Discord's REST API, so this
//! works without the database and without the gateway. A message that
//! could not be posted is tried again on the next step.
//!
//! While the bot can see, it also fetches the heartbeat URL (HEARTBEAT_URL)
//! every `paging.heartbeat_secs`, so an external dead-man's switch notices
//! a bot that died or went blind; `incident_bot_blind` in /metrics says the
//! same to Prometheus.

use super::App;
use crate::core::paging::{self, Blind, Sight};
use crate::render::{self, Message};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// What this bot has seen fail, and what it has said.
#[derive(Debug)]
pub struct Eyes {
    started: OffsetDateTime,
    engine_down_since: Option<OffsetDateTime>,
    database_down_since: Option<OffsetDateTime>,
    /// Said blind: what, since when.
    said: BTreeMap<Blind, OffsetDateTime>,
    /// Logged blind (once per spell, even while chat refuses the message).
    logged: std::collections::BTreeSet<Blind>,
    /// Chat refusing the message is logged once a minute, with a count.
    refused: crate::core::throttle::Throttle,
    last_beat: Option<OffsetDateTime>,
}

impl Eyes {
    pub fn new(started: OffsetDateTime) -> Eyes {
        Eyes {
            started,
            engine_down_since: None,
            database_down_since: None,
            said: BTreeMap::new(),
            logged: Default::default(),
            refused: crate::core::throttle::Throttle::per_minute(),
            last_beat: None,
        }
    }

    /// What is said to be blind now.
    pub fn blind(&self) -> Vec<Blind> {
        self.said.keys().copied().collect()
    }
}

/// One look at `now`: says what went blind and what came back; returns
/// what is blind.
pub async fn step(app: &App, eyes: &mut Eyes, now: OffsetDateTime) -> Vec<Blind> {
    let engine_down = app.watcher.status().engine_down.is_some();
    eyes.engine_down_since = engine_down.then(|| eyes.engine_down_since.unwrap_or(now));
    let db_down = !app.health.db_ready();
    eyes.database_down_since = db_down.then(|| eyes.database_down_since.unwrap_or(now));
    let sight = Sight {
        engine_down_since: eyes.engine_down_since,
        last_round: app.watcher.last_round(),
        database_down_since: eyes.database_down_since,
    };
    let after = time::Duration::seconds(app.settings.paging.blind_after_secs as i64);
    let blind = paging::blind(&sight, eyes.started, now, after);
    let host = app.watcher.host().map(str::to_string);
    for what in &blind {
        if eyes.said.contains_key(what) {
            continue;
        }
        let since = match what {
            Blind::Engine => sight.engine_down_since,
            Blind::Database => sight.database_down_since,
            Blind::Watcher => sight.last_round,
        }
        .unwrap_or(eyes.started);
        if eyes.logged.insert(*what) {
            tracing::error!(blind = what.as_str(), since = %since, "the bot cannot see");
        }
        let text = render::paging::blind(*what, host.as_deref(), since);
        if say(app, &mut eyes.refused, text).await {
            eyes.said.insert(*what, since);
        }
    }
    let back: Vec<(Blind, OffsetDateTime)> = eyes
        .said
        .iter()
        .filter(|(what, _)| !blind.contains(what))
        .map(|(w, s)| (*w, *s))
        .collect();
    for (what, since) in back {
        if eyes.logged.remove(&what) {
            tracing::info!(blind = what.as_str(), "the bot can see again");
        }
        let text = render::paging::seeing(what, host.as_deref(), now - since);
        if say(app, &mut eyes.refused, text).await {
            eyes.said.remove(&what);
        }
    }
    // A spell that ended before it could be said starts afresh next time.
    let said = &eyes.said;
    eyes.logged
        .retain(|w| blind.contains(w) || said.contains_key(w));
    for what in [Blind::Engine, Blind::Watcher, Blind::Database] {
        crate::metrics::global().blind(what.as_str(), blind.contains(&what));
    }
    blind
}

async fn say(app: &App, refused: &mut crate::core::throttle::Throttle, text: String) -> bool {
    match app
        .chat
        .post(app.incident_channel(), &Message::text(text))
        .await
    {
        Ok(_) => true,
        Err(e) => {
            if let Some(suppressed) = refused.allow(std::time::Instant::now()) {
                tracing::warn!(error = %e, suppressed, "could not post in the incident channel; trying again each second");
            }
            false
        }
    }
}

/// Whether the heartbeat is due at `now` while `seeing`; records it.
fn beat_due(app: &App, eyes: &mut Eyes, now: OffsetDateTime, seeing: bool) -> bool {
    let every = time::Duration::seconds(app.settings.paging.heartbeat_secs.max(1) as i64);
    if !seeing || eyes.last_beat.is_some_and(|last| now - last < every) {
        return false;
    }
    eyes.last_beat = Some(now);
    true
}

/// Fetches the heartbeat URL once (bounded by the webhook timeout).
async fn beat(app: &App) {
    let Ok(Some(url)) = app.settings.secrets.heartbeat_url() else {
        return;
    };
    match super::pager::http_client(app)
        .get(url.expose())
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {
            crate::metrics::global().heartbeat("ok");
        }
        Ok(r) => {
            crate::metrics::global().heartbeat("refused");
            tracing::warn!(status = %r.status(), "the heartbeat URL refused the heartbeat");
        }
        // The URL may hold a token: never logged.
        Err(_) => {
            crate::metrics::global().heartbeat("failed");
            tracing::warn!("the heartbeat URL could not be reached");
        }
    }
}

/// The loop: a look every second, whatever the database says (its being
/// down is one of the things to say); the heartbeat in its own task, so a
/// slow receiver never delays a look.
pub fn spawn(app: &Arc<App>) {
    let app = app.clone();
    tokio::spawn(async move {
        let mut eyes = Eyes::new(OffsetDateTime::now_utc());
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = OffsetDateTime::now_utc();
            let blind = step(&app, &mut eyes, now).await;
            if beat_due(&app, &mut eyes, now, blind.is_empty()) {
                let app = app.clone();
                tokio::spawn(async move { beat(&app).await });
            }
        }
    });
}
