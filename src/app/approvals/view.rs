//! How a request looks in chat: its message (embed and buttons), and the
//! button ids that name it.

use crate::core::approval::RequestState;
use crate::core::incident::stamp;
use crate::core::text::clip;
use crate::render::{Button, ButtonStyle, Embed, Message};
use crate::store::StoredRequest;

/// The request message as it should look now: for posting, and for
/// editing whenever its state changes (the text above it is kept).
pub(crate) fn request_message(req: &StoredRequest) -> Message {
    Message::embed(request_embed(req)).with_buttons(buttons(req))
}

/// The request's current state, for its message.
fn request_embed(req: &StoredRequest) -> Embed {
    let r = &req.rule;
    let (state, colour) = state_line(req);
    Embed::titled(clip(
        &format!(
            "Request #{}: {}",
            r.id,
            if req.title.is_empty() {
                format!("restart {}", req.service)
            } else {
                req.title.clone()
            }
        ),
        256,
    ))
    .colour(colour)
    .field("Requested by", req.requested_by_label.clone(), true)
    .field("Reason", clip(&req.reason, 1024), true)
    .field(
        if req.container_id.is_empty() {
            "Target"
        } else {
            "Container"
        },
        clip(&req.target_summary, 1024),
        false,
    )
    .field(
        "Needs",
        format!(
            "{} approver(s) other than the requester, by {}",
            r.approvals_needed,
            stamp(r.expires_at)
        ),
        false,
    )
    .field("State", clip(&state, 1024), false)
}

/// The request's state in words, and its colour.
fn state_line(req: &StoredRequest) -> (String, u32) {
    let r = &req.rule;
    let approvals = r
        .votes
        .iter()
        .filter(|v| v.approve)
        .map(|v| v.label.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let outcome = req.outcome.clone().unwrap_or_default();
    match r.state {
        RequestState::Pending => {
            let given = r.votes.iter().filter(|v| v.approve).count();
            let by = if approvals.is_empty() {
                String::new()
            } else {
                format!(" ({approvals})")
            };
            (
                format!("Pending: {given} of {} approval(s){by}", r.approvals_needed),
                0xF1_C4_0F,
            )
        }
        RequestState::Approved => (format!("Approved by {approvals}: executing…"), 0x34_98_DB),
        RequestState::Executed => (
            format!("Approved by {approvals} and executed: {outcome}"),
            0x2E_CC_71,
        ),
        RequestState::Failed => (
            format!("Approved by {approvals}, but failed: {outcome}"),
            0xE7_4C_3C,
        ),
        RequestState::Unknown => (
            format!("Approved by {approvals}; outcome unknown: {outcome}"),
            0xE6_7E_22,
        ),
        RequestState::Denied => {
            let by = r
                .votes
                .iter()
                .find(|v| !v.approve)
                .map_or("an approver", |v| v.label.as_str());
            (format!("Denied by {by}"), 0x95_A5_A6)
        }
        RequestState::Expired => (
            format!(
                "Expired at {} without enough approvals",
                stamp(r.expires_at)
            ),
            0x95_A5_A6,
        ),
    }
}

/// Approve and Deny, working only while the request is pending.
fn buttons(req: &StoredRequest) -> Vec<Button> {
    let open = req.rule.state == RequestState::Pending;
    vec![
        Button {
            id: format!("approval:{}:approve", req.rule.id),
            label: "Approve".into(),
            style: ButtonStyle::Success,
            disabled: !open,
        },
        Button {
            id: format!("approval:{}:deny", req.rule.id),
            label: "Deny".into(),
            style: ButtonStyle::Danger,
            disabled: !open,
        },
    ]
}

/// `approval:<id>:approve|deny` → (id, approve?).
pub(super) fn parse_custom_id(id: &str) -> Option<(i64, bool)> {
    let mut parts = id.split(':');
    let (Some("approval"), Some(n), Some(choice), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    match choice {
        "approve" => Some((n, true)),
        "deny" => Some((n, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_custom_id;

    #[test]
    fn only_well_formed_button_ids_name_a_request() {
        for (id, expected) in [
            ("approval:12:approve", Some((12, true))),
            ("approval:12:deny", Some((12, false))),
            ("approval:12:approve:extra", None),
            ("approval:-3:approve", None),
            ("approval:0:approve", None),
            ("approval:x:approve", None),
            ("approval:12:yes", None),
            ("other:12:approve", None),
            ("", None),
        ] {
            assert_eq!(parse_custom_id(id), expected, "{id}");
        }
    }
}
