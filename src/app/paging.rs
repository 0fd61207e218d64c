//! Paging until someone answers: an incident opened by an alert pages its
//! severity's first roster role at once; while nobody acknowledges, the
//! page is repeated every `repeat_minutes` and climbs the roster
//! (`core::paging`). Acknowledging or resolving stops it (the store clears
//! the next page in the same write); the escalation rules are separate and
//! keep their own times.
//!
//! Each page is a row, planned once under its incident's lock, with one
//! delivery row per way it goes out: the incident's thread (pinging exactly
//! the person or role paged), a direct message to the person, and the
//! outgoing webhook in PagerDuty Events API v2 form. Each delivery is
//! claimed, sent, then confirmed; a failure is retried with back-off and
//! recorded as failed after `paging.max_attempts`. The webhook's events
//! carry the incident's `dedup_key`, so a paging service folds a resent
//! event into the same alert.

use super::pager::Sent;
use super::App;
use crate::core::escalation;
use crate::core::incident::{Incident, State};
use crate::core::paging;
use crate::core::runbook::{RosterRole, Runbook};
use crate::render::{self, Message};
use crate::store::{Delivery, DuePaging, Plan, StoreError};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The role a repeat page has when it goes to the incident's lead.
pub const LEAD: &str = "lead";

/// How long a claimed delivery is its bot's before another may retry it.
const DELIVERY_LEASE_SECS: i64 = 60;

/// What one paging round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paged {
    /// Pages planned (each with its deliveries).
    pub planned: usize,
    pub delivered: usize,
    /// Deliveries that failed this round (retried later, or failed for
    /// good).
    pub failed: usize,
}

/// Starts paging a newly opened incident at `at`, if its runbook pages.
pub async fn start(app: &App, inc: &Incident, at: OffsetDateTime) {
    let pages = app
        .runbooks
        .get(&inc.runbook)
        .is_some_and(|rb| rb.paging.is_some());
    if !pages {
        return;
    }
    match app.store.start_paging(inc.id, at).await {
        Ok(_) => {}
        Err(e) => {
            tracing::error!(incident = inc.id, error = %crate::cause_chain(&e), "paging not started")
        }
    }
}

/// One round: plans the pages due at `now`, then sends every delivery due.
pub async fn tick(app: &App, now: OffsetDateTime) -> Result<Paged, StoreError> {
    let roster: BTreeMap<String, u64> = app.store.roster().await?.into_iter().collect();
    let webhook = matches!(app.settings.secrets.paging_webhook(), Ok(Some(_)));
    let dm = app.settings.paging.direct_messages;
    let planned = app
        .store
        .plan_pages(now, |due| plan(app, &roster, due, now, dm, webhook))
        .await?;
    let mut done = Paged::default();
    for p in &planned {
        match p.seq {
            Some(seq) => {
                done.planned += 1;
                crate::metrics::global().page("planned");
                tracing::info!(incident = p.incident_id, page = seq + 1, "page planned");
            }
            None => stopped(app, p.incident_id).await,
        }
    }
    deliver(app, now, &mut done).await?;
    Ok(done)
}

fn ladder(rb: &Runbook) -> Vec<RosterRole> {
    rb.roster_roles
        .iter()
        .map(|r| r.get_ref().clone())
        .collect()
}

/// What to write for a due incident: the policy's next page, or stop.
fn plan(
    app: &App,
    roster: &BTreeMap<String, u64>,
    due: &DuePaging,
    now: OffsetDateTime,
    dm: bool,
    webhook: bool,
) -> Plan {
    let Some(rb) = app.runbooks.get(&due.runbook) else {
        return Plan::Stop;
    };
    let Some(p) = &rb.paging else {
        return Plan::Stop;
    };
    let Some(sev) = rb
        .severity(&due.severity)
        .or_else(|| rb.severity(&p.default_severity))
    else {
        return Plan::Stop;
    };
    let Some(page) = paging::page(&ladder(rb), p, sev, due.pages_sent.max(0) as u32, now) else {
        return Plan::Stop;
    };
    // Repeat pages reach the incident's lead first: the pages that would
    // go to the first role again go to the lead; the climb is unchanged.
    let (role, user) = match due.lead_id {
        Some(lead) if page.seq >= 1 && page.role == sev.page_first => {
            (LEAD.to_string(), Some(lead))
        }
        _ => (page.role.clone(), roster.get(&page.role).copied()),
    };
    let mut media = vec!["channel"];
    if dm && user.is_some() {
        media.push("dm");
    }
    if webhook {
        media.push("webhook");
    }
    Plan::Page {
        role,
        user,
        media,
        next_at: page.next_at,
    }
}

async fn stopped(app: &App, incident: i64) {
    let Ok(Some(inc)) = app.store.incident(incident).await else {
        return;
    };
    let text =
        render::paging::paging_stopped(app.store.paging_next(incident).await.map_or(0, |(_, n)| n));
    let channel = inc.thread_id.unwrap_or(inc.channel_id) as u64;
    if let Err(e) = app.chat.post(channel, &Message::text(text)).await {
        tracing::warn!(incident, error = %e, "could not say that paging stopped");
    }
}

/// Sends every delivery due at `now`, each recorded as it went.
async fn deliver(app: &App, now: OffsetDateTime, done: &mut Paged) -> Result<(), StoreError> {
    let claimed = app.store.claim_deliveries(now, DELIVERY_LEASE_SECS).await?;
    for d in claimed {
        let result = send(app, &d).await;
        let at = OffsetDateTime::now_utc();
        let outcome = match &result {
            Sent::Yes => {
                done.delivered += 1;
                crate::metrics::global().page_delivery(&d.medium, "delivered");
                tracing::info!(incident = d.incident_id, page = d.seq + 1, medium = %d.medium, event = %d.event, attempt = d.attempts, "page delivered");
                Ok(())
            }
            Sent::Cancelled(why) => {
                tracing::info!(incident = d.incident_id, page = d.seq + 1, medium = %d.medium, reason = %why, "page delivery cancelled");
                Err((why.as_str(), None))
            }
            Sent::Retry(why) | Sent::Never(why) => {
                done.failed += 1;
                let last = d.attempts >= app.settings.paging.max_attempts as i32;
                let retry = match result {
                    Sent::Retry(_) if !last => Some(at + backoff(d.attempts)),
                    _ => None,
                };
                crate::metrics::global().page_delivery(
                    &d.medium,
                    if retry.is_some() {
                        "retrying"
                    } else {
                        "failed"
                    },
                );
                tracing::warn!(incident = d.incident_id, page = d.seq + 1, medium = %d.medium, attempt = d.attempts, error = %why, retrying = retry.is_some(), "page delivery failed");
                Err((why.as_str(), retry))
            }
        };
        let cancelled = matches!(result, Sent::Cancelled(_));
        let finished = if cancelled {
            app.store
                .cancel_delivery(d.id, outcome.err().map_or("", |(w, _)| w))
                .await
        } else {
            app.store.finish_delivery(d.id, at, outcome).await
        };
        if let Err(e) = finished {
            tracing::warn!(delivery = d.id, error = %e, "a delivery's outcome was not recorded; it may be retried after its lease");
        }
    }
    Ok(())
}

/// 2, 4, 8 … seconds after the `attempts`-th attempt, at most 5 minutes.
fn backoff(attempts: i32) -> time::Duration {
    time::Duration::seconds(2i64.saturating_pow(attempts.clamp(1, 9) as u32).min(300))
}

async fn send(app: &App, d: &Delivery) -> Sent {
    let inc = match app.store.incident(d.incident_id).await {
        Ok(Some(inc)) => inc,
        Ok(None) => return Sent::Never("the incident is gone".into()),
        Err(e) => return Sent::Retry(e.to_string()),
    };
    if d.event == "trigger" && inc.state != State::Open {
        return Sent::Cancelled(format!("the incident was {} first", inc.state.as_str()));
    }
    let rb = app.runbooks.or_first(&inc.runbook);
    let sev = render::paging::severity(&d.severity, rb.severity(&d.severity));
    let role_title = title(rb, &d.role);
    match d.medium.as_str() {
        "channel" => channel(app, d, &inc, rb, &sev, &role_title).await,
        "dm" => direct(app, d, &inc, &sev, &role_title).await,
        "webhook" => super::pager::send(app, d, &inc, rb).await,
        other => Sent::Never(format!("unknown medium {other}")),
    }
}

/// The page in the incident's thread (the incident channel if the thread
/// refuses it), pinging exactly who is paged.
async fn channel(
    app: &App,
    d: &Delivery,
    inc: &Incident,
    rb: &Runbook,
    sev: &str,
    role_title: &str,
) -> Sent {
    let discord = &app.settings.discord;
    let m = escalation::mention(
        role_title,
        d.user_id,
        discord.roster_role_ids.get(&d.role).copied(),
        &discord.oncall_role_ids,
    );
    let next = rb
        .paging
        .as_ref()
        .zip(rb.severity(&d.severity))
        .and_then(|(p, s)| {
            paging::page(&ladder(rb), p, s, (d.seq + 1) as u32, d.paged_at)
                .map(|n| (n.role, paging::next_after(d.paged_at, s)))
        });
    let next_title = next.as_ref().map(|(role, at)| {
        let first = rb.severity(&d.severity).map(|s| s.page_first.as_str());
        match inc.lead_id {
            Some(_) if Some(role.as_str()) == first => (title(rb, LEAD), *at),
            _ => (title(rb, role), *at),
        }
    });
    let text = render::paging::page(
        inc,
        sev,
        d.seq,
        &m.text,
        next_title.as_ref().map(|(t, at)| (t.as_str(), *at)),
    );
    let message = Message::ping(text, &m.users, &m.roles);
    let thread = inc.thread_id.unwrap_or(inc.channel_id) as u64;
    let posted = match app.chat.post(thread, &message).await {
        Ok(p) => Ok(p),
        Err(first) => {
            tracing::warn!(incident = inc.id, error = %first, "page not posted in the thread; trying the incident channel");
            app.chat.post(inc.channel_id as u64, &message).await
        }
    };
    match posted {
        Ok(p) => {
            app.timeline(
                inc.id,
                &crate::core::incident::TimelineEntry {
                    at: d.paged_at,
                    actor: "incident-bot".into(),
                    kind: "page".into(),
                    summary: format!("page {} to {}", d.seq + 1, role_title),
                    outcome: None,
                    link: Some(p.link),
                },
            )
            .await;
            app.audit_bot(
                d.paged_at,
                "page".into(),
                Some(format!("incident #{}", inc.id)),
                format!("paged {} (page {}, {sev})", d.role, d.seq + 1),
            )
            .await;
            Sent::Yes
        }
        Err(e) => Sent::Retry(e.to_string()),
    }
}

/// What a role is called in a page: its roster title, or "Incident
/// lead".
fn title(rb: &Runbook, role: &str) -> String {
    if role == LEAD {
        return "Incident lead".into();
    }
    rb.role_title(role)
}

/// The direct message to the person paged.
async fn direct(app: &App, d: &Delivery, inc: &Incident, sev: &str, role_title: &str) -> Sent {
    let Some(user) = d.user_id else {
        return Sent::Never("no person to message".into());
    };
    let guild = app.settings.discord.guild_id;
    let thread = inc.thread_id.unwrap_or(inc.channel_id);
    let link = format!("https://discord.com/channels/{guild}/{thread}");
    let text = render::paging::page_dm(inc, sev, role_title, &link);
    match app.chat.direct(user, &Message::text(text)).await {
        Ok(_) => Sent::Yes,
        // The person does not take direct messages from the server's
        // members: retrying cannot change that (the thread's page went).
        Err(e) if e.0.contains("Cannot send messages to this user") => Sent::Never(e.0),
        Err(e) => Sent::Retry(e.to_string()),
    }
}
