-- Escalations with their due times (the policy in force when they were
-- scheduled), and the on-call roster.

CREATE TABLE escalations (
    id          bigserial PRIMARY KEY,
    incident_id bigint      NOT NULL REFERENCES incidents (id),
    rule        text        NOT NULL,
    target      text        NOT NULL,
    text        text        NOT NULL,
    reason      text,
    due_at      timestamptz NOT NULL,
    -- delivering: claimed by a bot (at fired_at); a claim that was never
    -- confirmed (the bot died mid-way) can be taken over after a lease.
    state       text        NOT NULL CHECK (state IN ('pending', 'delivering', 'fired', 'cancelled')),
    fired_at    timestamptz,
    -- After a failed delivery: not before this (the due time stays as it
    -- was, so the ping can say how late it is).
    retry_at    timestamptz
);
-- A rule escalates an incident once; manual escalations may repeat.
CREATE UNIQUE INDEX escalations_once_per_rule ON escalations (incident_id, rule)
    WHERE rule <> 'manual';
CREATE INDEX escalations_due ON escalations (due_at) WHERE state = 'pending';

CREATE TABLE roster (
    role    text PRIMARY KEY,
    user_id bigint      NOT NULL,
    set_by  text        NOT NULL,
    set_at  timestamptz NOT NULL
);
