//! A vote by button: bound to the request's own message, decided
//! by `core::approval::vote` on the stored request, written conditionally
//! on its version. The write that completes the approvals is the execution
//! claim (with the rate limit checked in the same transaction), and the
//! click that wins it executes.

use super::execute::{action_timeout, execute, time_span};
use super::record::{announce, expire_now, timeline, update_message};
use super::view::parse_custom_id;
use crate::app::{App, Caller};
use crate::core::access::may_approve;
use crate::core::approval::{self, RequestState, VoteResult, Voter};
use crate::core::runbook::ActionEffect;
use crate::store::{AuditEntry, Claim, StoredRequest};
use time::OffsetDateTime;

/// A click on Approve or Deny of message `message_id`, already
/// acknowledged by the front end. Returns the private sentence for the
/// person who clicked, if there is one to say.
pub async fn click(app: &App, caller: &Caller, custom_id: &str, message_id: u64) -> Option<String> {
    let c = Click {
        app,
        who: caller.label(),
        custom_id,
    };
    let found = match parse_custom_id(custom_id) {
        Some((id, approve)) => app.store.request(id).await.map(|r| r.map(|r| (r, approve))),
        None => Ok(None),
    };
    let (req, approve) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            let result = format!("refused: unknown button id {custom_id:?}");
            c.audit("button", None, result).await;
            return Some(
                "That button does not belong to any request of this bot; nothing was done.".into(),
            );
        }
        Err(e) => return Some(format!("Nothing was recorded: {e}.")),
    };
    let action = if approve { "approve" } else { "deny" };
    // A click counts only on the message its request was posted in: a
    // button id names a request, and any client can send any id, so the id
    // alone must never decide what runs.
    if let Err(sentence) = bound_to_message(&req, caller.channel_id, message_id) {
        return c.refuse(action, &req, sentence).await;
    }
    let voter = Voter {
        user_id: caller.user_id,
        label: c.who.clone(),
        is_approver: may_approve(app.roles(), &caller.roles),
    };
    c.vote(req, &voter, approve).await
}

/// One click being decided, for its audit rows.
struct Click<'a> {
    app: &'a App,
    who: String,
    custom_id: &'a str,
}

impl Click<'_> {
    async fn audit(&self, action: &str, target: Option<String>, result: String) {
        self.app
            .audit(AuditEntry {
                at: OffsetDateTime::now_utc(),
                actor: self.who.clone(),
                action: action.into(),
                target,
                result,
                detail: Some(serde_json::json!({ "custom_id": self.custom_id })),
            })
            .await;
    }

    /// Audits a refusal; returns the sentence for the person who clicked.
    async fn refuse(&self, action: &str, req: &StoredRequest, sentence: String) -> Option<String> {
        let target = Some(format!("request #{}", req.rule.id));
        self.audit(action, target, format!("refused: {sentence}"))
            .await;
        Some(sentence)
    }

    /// Decides on the stored state and writes only if nobody changed it
    /// since; decides again on fresh state when somebody did.
    async fn vote(&self, mut req: StoredRequest, voter: &Voter, approve: bool) -> Option<String> {
        let (app, action) = (self.app, if approve { "approve" } else { "deny" });
        let claim = execution_claim(app, &req);
        for _ in 0..3 {
            let now = OffsetDateTime::now_utc();
            let (vote, to) = match approval::vote(&req.rule, voter, approve, now) {
                VoteResult::Refused(sentence) => return self.refuse(action, &req, sentence).await,
                VoteResult::Expired => {
                    if let Err(e) = expire_now(app, now).await {
                        tracing::warn!(error = %e, "expiry after a late click failed");
                    }
                    let sentence = format!("Request #{} expired; make a new request.", req.rule.id);
                    return self.refuse(action, &req, sentence).await;
                }
                VoteResult::Counted(v) => (v, RequestState::Pending),
                VoteResult::Approved(v) => (v, RequestState::Approved),
                VoteResult::Denied(v) => (v, RequestState::Denied),
            };
            match app
                .store
                .record_vote(req.rule.id, req.rule.version, &vote, to, claim.as_ref())
                .await
            {
                Ok(Some(updated)) => {
                    self.counted(updated, to, approve, now).await;
                    return None;
                }
                Ok(None) => match app.store.request(req.rule.id).await {
                    Ok(Some(fresh)) => req = fresh,
                    _ => break,
                },
                Err(e) => return Some(format!("Nothing was recorded: {e}.")),
            }
        }
        Some("The request is changing right now; try again.".into())
    }

    /// After a vote was written (moving the request to `to`): the message,
    /// the audit log, the timeline, and execution when it was the claim.
    async fn counted(
        &self,
        mut updated: StoredRequest,
        to: RequestState,
        approve: bool,
        now: OffsetDateTime,
    ) {
        let app = self.app;
        if to != RequestState::Pending {
            crate::metrics::global().approval(to.as_str());
        }
        // The clicked message is the request's: edit it in place.
        update_message(app, &updated).await;
        let action = if approve { "approve" } else { "deny" };
        let target = Some(format!("request #{}", updated.rule.id));
        self.audit(action, target, updated.rule.state.as_str().into())
            .await;
        let verb = if approve { "approved" } else { "denied" };
        let summary = format!("request #{} {verb}", updated.rule.id);
        timeline(app, &updated, &self.who, "approval", summary).await;
        match updated.rule.state {
            // Bound to another host: that host's node claims it as a job.
            RequestState::Approved if !app.owns(&updated) => {
                tracing::info!(request = updated.rule.id, node = ?updated.node, "approved; left to the node that owns the container");
            }
            RequestState::Approved => execute(app, updated).await,
            // Approved, but over the rate limit: recorded as failed in the
            // same write as the vote; say why.
            RequestState::Failed if to == RequestState::Approved => {
                let why = updated.outcome.clone().unwrap_or_default();
                announce(app, &mut updated, RequestState::Failed, why, now).await;
            }
            _ => {}
        }
    }
}

/// The claim the approval completing `req` writes: this bot executes it,
/// with the lease, the action's time limit, and its rate limit.
fn execution_claim(app: &App, req: &StoredRequest) -> Option<Claim> {
    let effect = &app.runbooks.action(&req.runbook, &req.action)?.effect;
    let settings = &app.settings;
    Some(Claim {
        by: app.instance.clone(),
        lease: time_span(std::time::Duration::from_secs(
            settings.approvals.lease_secs.max(1),
        )),
        timeout: time_span(action_timeout(effect, settings)),
        rate_limit_per_hour: match effect {
            ActionEffect::RestartService {
                rate_limit_per_hour,
                ..
            } => Some(*rate_limit_per_hour),
            _ => None,
        },
        node: app.fleet_node().map(String::from),
        wait: time_span(std::time::Duration::from_secs(
            settings.fleet.job_claim_secs.max(1),
        )),
    })
}

/// Whether a click on message `message` in `channel` may act on `req`.
fn bound_to_message(req: &StoredRequest, channel: u64, message: u64) -> Result<(), String> {
    match (req.channel_id, req.message_id) {
        (Some(c), Some(m)) if c as u64 == channel && m as u64 == message => Ok(()),
        (_, None) => Err(format!(
            "Request #{}'s message is not recorded yet; try again in a moment. Nothing was done.",
            req.rule.id
        )),
        _ => Err(format!(
            "That button does not belong to request #{}'s message; nothing was done.",
            req.rule.id
        )),
    }
}
