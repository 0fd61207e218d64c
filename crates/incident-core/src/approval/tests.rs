//! The approval rules, table-driven, with the clock passed in.

use super::*;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-02-21 14:00:00 UTC);
const REQUESTER: u64 = 1;

fn request(state: RequestState, needed: u32, votes: &[(u64, bool)]) -> ActionRequest {
    ActionRequest {
        id: 5,
        state,
        version: 1,
        requested_by: REQUESTER,
        requested_at: T0,
        expires_at: T0 + Duration::minutes(15),
        approvals_needed: needed,
        votes: votes
            .iter()
            .map(|(user_id, approve)| Vote {
                user_id: *user_id,
                label: format!("user{user_id}"),
                approve: *approve,
                at: T0,
            })
            .collect(),
    }
}

fn approver(user_id: u64) -> Voter {
    Voter {
        user_id,
        label: format!("user{user_id}"),
        is_approver: true,
    }
}

/// What a result is, without the vote's details.
fn kind(r: &VoteResult) -> String {
    match r {
        VoteResult::Counted(_) => "counted".into(),
        VoteResult::Approved(_) => "approved".into(),
        VoteResult::Denied(_) => "denied".into(),
        VoteResult::Expired => "expired".into(),
        VoteResult::Refused(why) => format!("refused: {why}"),
    }
}

/// `voter` votes on `req` at `at`: the result's kind starts with `expected`.
fn check(req: ActionRequest, voter: Voter, approve: bool, at: OffsetDateTime, expected: &str) {
    let got = kind(&vote(&req, &voter, approve, at));
    assert!(
        got.starts_with(expected),
        "{:?} with {:?} by {} at {at}: got {got:?}, want {expected:?}",
        req.state,
        req.votes,
        voter.user_id
    );
}

#[test]
fn who_may_vote() {
    let now = T0 + Duration::minutes(1);
    let outsider = Voter {
        is_approver: false,
        ..approver(9)
    };
    // One approver besides the requester: two people in all.
    check(
        request(RequestState::Pending, 1, &[]),
        approver(2),
        true,
        now,
        "approved",
    );
    check(
        request(RequestState::Pending, 2, &[]),
        approver(2),
        true,
        now,
        "counted",
    );
    check(
        request(RequestState::Pending, 2, &[(2, true)]),
        approver(3),
        true,
        now,
        "approved",
    );
    // The requester never approves their own request, even as approver.
    check(
        request(RequestState::Pending, 1, &[]),
        approver(REQUESTER),
        true,
        now,
        "refused: You asked for this action",
    );
    check(
        request(RequestState::Pending, 1, &[]),
        outsider.clone(),
        true,
        now,
        "refused: You need an approver role",
    );
    check(
        request(RequestState::Pending, 1, &[]),
        outsider,
        false,
        now,
        "refused: You need an approver role",
    );
}

#[test]
fn what_a_vote_does_in_each_state() {
    let now = T0 + Duration::minutes(1);
    let late = T0 + Duration::minutes(15);
    // Approving twice counts once.
    check(
        request(RequestState::Pending, 2, &[(2, true)]),
        approver(2),
        true,
        now,
        "refused: You already voted",
    );
    // One deny ends it; afterwards nothing can approve it.
    check(
        request(RequestState::Pending, 2, &[(2, true)]),
        approver(3),
        false,
        now,
        "denied",
    );
    check(
        request(RequestState::Denied, 1, &[(3, false)]),
        approver(2),
        true,
        now,
        "refused: Request #5 was denied by user3",
    );
    // Expiry: a click at or after the deadline records the expiry.
    check(
        request(RequestState::Pending, 1, &[]),
        approver(2),
        true,
        late,
        "expired",
    );
    check(
        request(RequestState::Expired, 1, &[]),
        approver(2),
        true,
        now,
        "refused: Request #5 expired",
    );
    // A request approved already cannot be approved again.
    check(
        request(RequestState::Approved, 1, &[(2, true)]),
        approver(3),
        true,
        now,
        "refused: Request #5 was already approved",
    );
    check(
        request(RequestState::Executed, 1, &[(2, true)]),
        approver(3),
        false,
        now,
        "refused: Request #5 was already approved",
    );
}

#[test]
fn a_recorded_vote_carries_who_and_when() {
    let now = T0 + Duration::minutes(2);
    let VoteResult::Approved(v) = vote(
        &request(RequestState::Pending, 1, &[]),
        &approver(2),
        true,
        now,
    ) else {
        panic!("approved")
    };
    assert_eq!((v.user_id, v.approve, v.at), (2, true, now));
}

#[test]
fn expiry_and_rate_limit() {
    let req = request(RequestState::Pending, 1, &[]);
    assert!(!is_due_to_expire(&req, T0 + Duration::minutes(14)));
    assert!(is_due_to_expire(&req, T0 + Duration::minutes(15)));
    assert!(!is_due_to_expire(
        &request(RequestState::Denied, 1, &[]),
        T0 + Duration::hours(1)
    ));

    let now = T0 + Duration::hours(2);
    let times = |mins: &[i64]| -> Vec<OffsetDateTime> {
        mins.iter().map(|m| now - Duration::minutes(*m)).collect()
    };
    assert!(within_rate_limit("web", &times(&[10, 20]), 3, now).is_ok());
    assert!(
        within_rate_limit("web", &times(&[10, 20, 70, 90]), 3, now).is_ok(),
        "older than an hour"
    );
    let refusal = within_rate_limit("web", &times(&[5, 10, 20]), 3, now).unwrap_err();
    assert!(
        refusal.contains("web was restarted 3 times in the last hour (the limit is 3)"),
        "{refusal}"
    );
    assert!(
        refusal.contains("/mem leaks"),
        "says what to do instead: {refusal}"
    );
}
