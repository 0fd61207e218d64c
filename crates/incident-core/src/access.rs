//! Who may do what, by Discord role IDs: a pure policy over the member's
//! roles and the configured role lists.
//!
//! Access is granted, never assumed: an empty role list lets nobody in.

use super::commands::Target;

/// The configured role lists (Discord role IDs).
#[derive(Debug, Clone, Copy)]
pub struct Roles<'a> {
    /// May run diagnosis and request actions or escalations.
    pub responders: &'a [u64],
    /// May approve state-changing actions requested by someone else.
    pub approvers: &'a [u64],
}

/// Whether a member with `member_roles` may invoke `target`; the refusal is
/// one sentence naming `command` (e.g. "/mem status").
pub fn may_invoke(
    roles: Roles<'_>,
    member_roles: &[u64],
    target: &Target,
    command: &str,
) -> Result<(), String> {
    // Requests and escalations change nothing by themselves (approval and
    // the roster decide what happens next), and incidents are the
    // responders' own record, so responders may do all of these. The match
    // is exhaustive on purpose: a new kind of target must choose its role.
    let needed = match target {
        Target::Step(_)
        | Target::Causes
        | Target::Verify
        | Target::Runbook
        | Target::Action(_)
        | Target::Escalate
        | Target::Incident(_)
        | Target::Oncall { .. }
        // Silences are for the responders' planned work; they are audited
        // and shown in every report while they last.
        | Target::Silence(_) => roles.responders,
    };
    if needed.is_empty() {
        return Err(format!(
            "No responder role is configured (discord.responder_role_ids), so nobody may run {command} yet."
        ));
    }
    if member_roles.iter().any(|r| needed.contains(r)) {
        Ok(())
    } else {
        Err(format!(
            "You need a responder role to run {command}; ask your incident lead to grant it."
        ))
    }
}

/// Whether a member may approve or deny an action request.
pub fn may_approve(roles: Roles<'_>, member_roles: &[u64]) -> bool {
    member_roles.iter().any(|r| roles.approvers.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responders_only_and_empty_lists_admit_nobody() {
        let roles = Roles {
            responders: &[10, 11],
            approvers: &[20],
        };
        let status = Target::Step("status".into());
        // (member roles, allowed)
        for (member, allowed) in [
            (&[10][..], true),
            (&[99, 11][..], true),
            (&[20][..], false), // an approver is not automatically a responder
            (&[][..], false),
        ] {
            assert_eq!(
                may_invoke(roles, member, &status, "/mem status").is_ok(),
                allowed,
                "{member:?}"
            );
        }
        let refusal = may_invoke(roles, &[1], &status, "/mem status").unwrap_err();
        assert!(
            refusal.contains("responder role to run /mem status"),
            "{refusal}"
        );
        let nobody = Roles {
            responders: &[],
            approvers: &[],
        };
        let refusal = may_invoke(nobody, &[10], &status, "/mem status").unwrap_err();
        assert!(
            refusal.contains("No responder role is configured"),
            "{refusal}"
        );
        assert!(may_approve(roles, &[20]));
        assert!(!may_approve(roles, &[10]));
    }
}
