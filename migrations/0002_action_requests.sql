-- State-changing actions waiting for (or past) two-person approval.

CREATE TABLE action_requests (
    id                 bigserial PRIMARY KEY,
    runbook            text        NOT NULL,
    action             text        NOT NULL,
    service            text        NOT NULL,
    -- The exact container the request was made for; a recreated container
    -- (another id) is refused at execution.
    container_id       text        NOT NULL,
    container_name     text        NOT NULL,
    -- What approvers were shown: image, memory and uptime at request time.
    target_summary     text        NOT NULL,
    reason             text        NOT NULL,
    requested_by       bigint      NOT NULL,
    requested_by_label text        NOT NULL,
    requested_at       timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    approvals_needed   integer     NOT NULL CHECK (approvals_needed >= 1),
    state              text        NOT NULL CHECK (state IN
                           ('pending', 'approved', 'executed', 'failed', 'denied', 'expired')),
    -- Bumped by every change; the pending → approved write is the
    -- execution claim, so it can succeed once only.
    version            integer     NOT NULL DEFAULT 1,
    channel_id         bigint,
    message_id         bigint,
    incident_id        bigint REFERENCES incidents (id),
    outcome            text,
    executed_at        timestamptz
);
CREATE INDEX action_requests_pending ON action_requests (expires_at) WHERE state = 'pending';
-- One open request per service and action: a second one would restart the
-- same container again on figures already stale.
CREATE UNIQUE INDEX action_requests_one_open ON action_requests (action, service)
    WHERE state IN ('pending', 'approved');
CREATE INDEX action_requests_executed ON action_requests (service, executed_at) WHERE state = 'executed';

CREATE TABLE action_votes (
    request_id bigint      NOT NULL REFERENCES action_requests (id),
    user_id    bigint      NOT NULL,
    label      text        NOT NULL,
    approve    boolean     NOT NULL,
    at         timestamptz NOT NULL,
    -- One vote per person and request.
    PRIMARY KEY (request_id, user_id)
);
