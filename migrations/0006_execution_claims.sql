-- Execution claims that survive their executor: who claimed an approved
-- request, when, the lease the executor keeps renewing while it works,
-- and the latest moment it may still be executing. A claim whose lease
-- lapsed or whose deadline passed is reconciled by any bot: it inspects
-- what happened and records it, so no request stays "executing".
ALTER TABLE action_requests
    ADD COLUMN claimed_at    timestamptz,
    ADD COLUMN claimed_by    text,
    ADD COLUMN lease_until   timestamptz,
    ADD COLUMN deadline_at   timestamptz,
    -- Set when the outcome was judged by a reconciler rather than seen by
    -- the executor; the executor's own outcome, if it arrives late, wins.
    ADD COLUMN reconciled_at timestamptz;

-- "unknown": approved and claimed, but whether it ran cannot be told.
ALTER TABLE action_requests DROP CONSTRAINT action_requests_state_check;
ALTER TABLE action_requests ADD CONSTRAINT action_requests_state_check CHECK (state IN
    ('pending', 'approved', 'executed', 'failed', 'denied', 'expired', 'unknown'));

CREATE INDEX action_requests_claims ON action_requests (lease_until) WHERE state = 'approved';
