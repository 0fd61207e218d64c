//! Two-person approval of state-changing actions: the state machine.
//!
//! An action request is pending until enough approvers other than the
//! requester approve (then it is approved, and executed exactly once), one
//! approver denies, or it expires. [`vote`] takes the request as stored, who
//! clicked, what, and `now`, and returns what to record or the sentence that
//! refuses the click. The store writes the result only if the request's
//! version is unchanged, which is also the execution claim: only the write
//! that moves a request from pending to approved may execute it.

use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    Pending,
    /// Enough approvals; claimed for execution.
    Approved,
    Executed,
    Failed,
    Denied,
    Expired,
    /// Approved and claimed, but its executor stopped before recording the
    /// outcome, and what it did cannot be told from outside.
    Unknown,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Executed => "executed",
            RequestState::Failed => "failed",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<RequestState> {
        [
            RequestState::Pending,
            RequestState::Approved,
            RequestState::Executed,
            RequestState::Failed,
            RequestState::Denied,
            RequestState::Expired,
            RequestState::Unknown,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// One approval or denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    pub user_id: u64,
    /// How to name the voter: `alice (<@9001>)`.
    pub label: String,
    pub approve: bool,
    pub at: OffsetDateTime,
}

/// A request as stored (the parts the rules need).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRequest {
    pub id: i64,
    pub state: RequestState,
    pub version: i32,
    pub requested_by: u64,
    pub requested_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Approvers needed besides the requester.
    pub approvals_needed: u32,
    pub votes: Vec<Vote>,
}

impl ActionRequest {
    pub fn approvals(&self) -> usize {
        self.votes.iter().filter(|v| v.approve).count()
    }
}

/// Who clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    pub user_id: u64,
    pub label: String,
    /// Holds an approver role at the moment of clicking.
    pub is_approver: bool,
}

/// What a click leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteResult {
    /// Record the vote; the request stays pending.
    Counted(Vote),
    /// Record the vote and move to approved: execute.
    Approved(Vote),
    /// Record the denial: the request is over.
    Denied(Vote),
    /// The request had expired: record that, and tell the voter.
    Expired,
    /// Nothing to record; the sentence tells the voter why.
    Refused(String),
}

/// Decides a click of Approve (`approve`) or Deny on a request.
pub fn vote(req: &ActionRequest, voter: &Voter, approve: bool, now: OffsetDateTime) -> VoteResult {
    match req.state {
        RequestState::Pending => {}
        RequestState::Denied => {
            let by = req
                .votes
                .iter()
                .find(|v| !v.approve)
                .map_or("an approver", |v| v.label.as_str());
            return VoteResult::Refused(format!(
                "Request #{} was denied by {by}; it cannot be approved any more.",
                req.id
            ));
        }
        RequestState::Expired => {
            return VoteResult::Refused(format!(
                "Request #{} expired; make a new request.",
                req.id
            ));
        }
        RequestState::Approved
        | RequestState::Executed
        | RequestState::Failed
        | RequestState::Unknown => {
            return VoteResult::Refused(format!(
                "Request #{} was already approved; see its message for the outcome.",
                req.id
            ));
        }
    }
    if now >= req.expires_at {
        return VoteResult::Expired;
    }
    if !voter.is_approver {
        return VoteResult::Refused("You need an approver role to approve or deny actions.".into());
    }
    if approve && voter.user_id == req.requested_by {
        return VoteResult::Refused(
            "You asked for this action; someone else has to approve it.".into(),
        );
    }
    if req.votes.iter().any(|v| v.user_id == voter.user_id) {
        return VoteResult::Refused(format!(
            "You already voted on request #{}; each person counts once.",
            req.id
        ));
    }
    let v = Vote {
        user_id: voter.user_id,
        label: voter.label.clone(),
        approve,
        at: now,
    };
    if !approve {
        VoteResult::Denied(v)
    } else if req.approvals() + 1 >= req.approvals_needed as usize {
        VoteResult::Approved(v)
    } else {
        VoteResult::Counted(v)
    }
}

/// Whether a pending request is past its expiry.
pub fn is_due_to_expire(req: &ActionRequest, now: OffsetDateTime) -> bool {
    req.state == RequestState::Pending && now >= req.expires_at
}

/// The per-service restart limit: `recent` are the times of executed
/// restarts of that service. `Err` says what happened and what to do instead.
pub fn within_rate_limit(
    service: &str,
    recent: &[OffsetDateTime],
    per_hour: u32,
    now: OffsetDateTime,
) -> Result<(), String> {
    let last_hour = recent
        .iter()
        .filter(|t| now - **t < Duration::hours(1))
        .count();
    if last_hour < per_hour as usize {
        Ok(())
    } else {
        Err(format!(
            "{service} was restarted {last_hour} times in the last hour (the limit is {per_hour}): restarting again will not fix a leak. Find its cause with /mem leaks and /mem profile, or escalate with /mem escalate."
        ))
    }
}

pub mod reconcile;
pub use reconcile::{reconcile, Observed};

#[cfg(test)]
mod tests;
