-- Paging that people trust: pages repeated until an incident is
-- acknowledged, every page and every delivery of it a row; silences; one
-- alert across sources and flaps.

-- The next page of an incident that pages (NULL: it does not, or no
-- longer), and how many were sent. Planned under the incident's row lock,
-- so two bots never plan the same page.
ALTER TABLE incidents
    ADD COLUMN paging_next_at timestamptz,
    ADD COLUMN pages_sent     integer NOT NULL DEFAULT 0;
CREATE INDEX incidents_paging_due ON incidents (paging_next_at)
    WHERE paging_next_at IS NOT NULL;

-- One row per page: who (the roster role and, when the roster names one,
-- the person), when, at which severity, and why.
CREATE TABLE pages (
    id          bigserial PRIMARY KEY,
    incident_id bigint      NOT NULL REFERENCES incidents (id),
    seq         integer     NOT NULL,
    role        text        NOT NULL,
    user_id     bigint,
    severity    text        NOT NULL,
    at          timestamptz NOT NULL,
    UNIQUE (incident_id, seq)
);

-- How each page goes out, one row per way: the incident's thread, a
-- direct message, the outgoing webhook (trigger, and later the
-- acknowledge or resolve event). Claimed like escalations (a lease), so
-- each is sent by one bot; confirmed after it was sent; retried with
-- back-off; failed for good after the configured attempts.
CREATE TABLE page_deliveries (
    id           bigserial PRIMARY KEY,
    page_id      bigint      NOT NULL REFERENCES pages (id),
    medium       text        NOT NULL CHECK (medium IN ('channel', 'dm', 'webhook')),
    event        text        NOT NULL DEFAULT 'trigger'
                 CHECK (event IN ('trigger', 'acknowledge', 'resolve')),
    state        text        NOT NULL CHECK (state IN ('pending', 'delivering', 'delivered', 'failed', 'cancelled')),
    attempts     integer     NOT NULL DEFAULT 0,
    next_try_at  timestamptz NOT NULL,
    claimed_at   timestamptz,
    delivered_at timestamptz,
    error        text,
    UNIQUE (page_id, medium, event)
);
CREATE INDEX page_deliveries_due ON page_deliveries (next_try_at)
    WHERE state IN ('pending', 'delivering');

-- Silences: a service (NULL: every service) whose alerts open no incident
-- and page nobody until ends_at, or until ended by hand.
CREATE TABLE silences (
    id         bigserial PRIMARY KEY,
    service    text,
    reason     text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    ended_at   timestamptz,
    ended_by   text,
    -- Its end is being handled by a bot since then (a lease: a bot that
    -- dies meanwhile leaves it to another after two minutes) ...
    end_claimed_at timestamptz,
    -- ... and was handled: said in the channel, the alerts it held back
    -- handed on.
    end_handled boolean    NOT NULL DEFAULT false
);
CREATE INDEX silences_active ON silences (ends_at) WHERE NOT end_handled;

-- An alert reported by several sources is one row: each source that fires
-- it is listed, and it resolves when every one of them has resolved it.
-- One that fires again within the runbook's flap window is the same row,
-- fired again (flaps counted). An alert that fired under a silence names
-- it. chart_at: when its report's chart was last drawn (redrawn at most
-- once a minute).
ALTER TABLE alerts
    ADD COLUMN sources     text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN flaps       integer     NOT NULL DEFAULT 0,
    ADD COLUMN silenced_by bigint      REFERENCES silences (id),
    ADD COLUMN chart_at    timestamptz;
UPDATE alerts SET sources = ARRAY[source] WHERE state = 'firing';
CREATE INDEX alerts_recent_by_fingerprint ON alerts (fingerprint, resolved_at);
