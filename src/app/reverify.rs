//! Verification that re-runs itself: after an action ran for an incident
//! (a remedy) and after an incident is resolved, the runbook's checklist
//! runs again at `[reverify] after_minutes` (scheduled by `rechecks`; a
//! newer remedy replaces the runs still waiting). Each run is claimed by
//! one bot, posts one line in the incident's thread, and is recorded. A
//! regression (memory back over a
//! bar, a new OOM kill, a growing trend: `core::reverify::regressed`)
//! pages again an incident still open, reopens one resolved within
//! `reopen_within_minutes`, or else opens a new incident linked to it;
//! whoever resolved it and the on-call person are pinged.

use super::App;
use crate::core::escalation;
use crate::core::incident::{Incident, State};
use crate::core::reverify::{self, Regression};
use crate::core::runbook::{Check, Runbook};
use crate::render::{self, Message};
use crate::store::{DueCheck, StoreError};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One step of the loop: every run due at `now`, claimed once.
pub async fn tick(app: &App, now: OffsetDateTime) -> Result<usize, StoreError> {
    let due = app.store.claim_due_checks(now).await?;
    for check in &due {
        run(app, check, now).await?;
    }
    Ok(due.len())
}

/// The verification items whose failure is a regression: memory bars, OOM
/// signs and the trend.
fn watched(rb: &Runbook) -> Vec<&str> {
    rb.verification
        .iter()
        .map(|v| v.get_ref())
        .filter(|v| {
            matches!(
                v.check,
                Check::ContainerMemory(_) | Check::OomScan { .. } | Check::MemoryTrend { .. }
            )
        })
        .map(|v| v.id.as_str())
        .collect()
}

async fn run(app: &App, check: &DueCheck, now: OffsetDateTime) -> Result<(), StoreError> {
    let Some(inc) = app.store.incident(check.incident_id).await? else {
        return app
            .store
            .finish_check(check.id, "unknown", "the incident is gone")
            .await;
    };
    let rb = app.runbooks.or_first(&inc.runbook);
    let probes = app.probes();
    // OOM signs count from the remedy (or the resolution) on.
    let report = match super::diagnose::verify::verify(&probes, rb, check.from_at).await {
        Ok(r) => r,
        Err(e) => {
            let why = e.for_chat();
            tracing::warn!(incident = inc.id, error = %crate::cause_chain(&e), "a re-check could not run");
            say(
                app,
                &inc,
                &format!(
                    "Re-check +{} min could not run: {why}.",
                    check.offset_minutes
                ),
            )
            .await;
            return app.store.finish_check(check.id, "unknown", &why).await;
        }
    };
    let line = render::reverify::line(check.offset_minutes, &check.after, &report);
    say(app, &inc, &line).await;
    let outcome = report.outcome.label().to_lowercase();
    app.store.finish_check(check.id, &outcome, &line).await?;
    app.audit_bot(
        now,
        format!("re-check +{} min", check.offset_minutes),
        Some(format!("incident #{}", inc.id)),
        outcome,
    )
    .await;
    let watched = watched(rb);
    let failed = reverify::regressed(&report.items, &watched);
    if !failed.is_empty() {
        regression(app, &inc, rb, &failed, check, now).await?;
    }
    super::header::refresh(app, inc.id).await;
    Ok(())
}

async fn say(app: &App, inc: &Incident, text: &str) {
    let channel = inc.thread_id.unwrap_or(inc.channel_id) as u64;
    if let Err(e) = app.chat.post(channel, &Message::text(text)).await {
        tracing::warn!(incident = inc.id, error = %e, "could not post a re-check in the thread");
    }
}

/// The person a label (`alice (<@123>)`) names, if any.
fn person(label: &str) -> Option<u64> {
    let rest = &label[label.find("<@")? + 2..];
    rest[..rest.find('>')?].parse().ok()
}

async fn regression(
    app: &App,
    inc: &Incident,
    rb: &Runbook,
    failed: &[&crate::core::verification::ItemResult],
    check: &DueCheck,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let Some(r) = &rb.reverify else {
        return Ok(());
    };
    let resolved_at = (inc.state == State::Resolved)
        .then_some(inc.resolved_at)
        .flatten();
    let resolver = inc.resolved_by.as_deref().and_then(person);
    let (target, what) = match reverify::after_regression(resolved_at, now, r) {
        Regression::Page => {
            app.store.page_again(inc.id, now).await?;
            (inc.clone(), "still open: paging again".to_string())
        }
        Regression::Reopen => {
            let reason = format!(
                "regression found {} min after the {}",
                check.offset_minutes, check.after
            );
            match app
                .store
                .reopen_incident(inc.id, "incident-bot", &reason, now)
                .await?
            {
                Some(reopened) => (reopened, "reopened".to_string()),
                None => return Ok(()),
            }
        }
        Regression::Link => {
            let title = format!("Regression of #{}: {}", inc.id, inc.title);
            let how = super::incidents::How {
                opened_by: "incident-bot (regression)",
                announced_by: &format!("a regression of incident #{}", inc.id),
                severity: Some(&inc.severity),
            };
            let opened = super::incidents::open(app, rb, &title, &how, now).await?;
            app.store
                .link_regression(opened.incident.id, inc.id)
                .await?;
            super::paging::start(app, &opened.incident, now).await;
            let what = format!("a new incident #{} is opened for it", opened.incident.id);
            (opened.incident, what)
        }
    };
    // Whoever resolved it, and the on-call person (the runbook's first
    // roster role), are pinged.
    let roster: BTreeMap<String, u64> = app.store.roster().await?.into_iter().collect();
    let first = rb.roster_roles.first().map(|r| r.get_ref());
    // The lead first, then whoever resolved it, then on-call.
    let mut users: Vec<u64> = inc.lead_id.into_iter().collect();
    let mut names: Vec<String> = inc
        .lead_id
        .iter()
        .map(|u| format!("<@{u}> (leads it)"))
        .collect();
    if let Some(u) = resolver.filter(|u| Some(*u) != inc.lead_id) {
        users.push(u);
        names.push(format!("<@{u}> (resolved it)"));
    }
    let mut roles = Vec::new();
    if let Some(role) = first {
        let discord = &app.settings.discord;
        let m = escalation::mention(
            &role.title,
            roster.get(&role.id).copied(),
            discord.roster_role_ids.get(&role.id).copied(),
            &discord.oncall_role_ids,
        );
        let others: Vec<u64> = m
            .users
            .iter()
            .copied()
            .filter(|u| !users.contains(u))
            .collect();
        users.extend(others);
        roles = m.roles;
        names.push(m.text);
    }
    users.dedup();
    let text = render::reverify::regression(inc.id, &what, failed, &names.join(", "));
    let channel = target.thread_id.unwrap_or(target.channel_id) as u64;
    if let Err(e) = app
        .chat
        .post(channel, &Message::ping(text, &users, &roles))
        .await
    {
        tracing::warn!(incident = inc.id, error = %e, "the regression was not said");
    }
    app.audit_bot(
        now,
        "regression".into(),
        Some(format!("incident #{}", inc.id)),
        what,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_person_is_read_from_a_label() {
        assert_eq!(super::person("alice (<@123>)"), Some(123));
        assert_eq!(super::person("incident-bot"), None);
        assert_eq!(super::person("x (<@abc>)"), None);
    }
}
