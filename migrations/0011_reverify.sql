-- Closing the loop. Verification that re-runs itself: the checklist runs again at the
-- runbook's minutes after a remedy or a resolution. Each run is a row,
-- claimed by one bot (a lease: a bot that dies mid-run leaves it to
-- another after five minutes), its result recorded. A newer remedy
-- cancels the runs still waiting.
CREATE TABLE scheduled_checks (
    id             bigserial PRIMARY KEY,
    incident_id    bigint      NOT NULL REFERENCES incidents (id),
    -- What it follows: an action's id, or 'resolve'; and when that was.
    after          text        NOT NULL,
    from_at        timestamptz NOT NULL,
    offset_minutes integer     NOT NULL,
    due_at         timestamptz NOT NULL,
    state          text        NOT NULL CHECK (state IN ('pending', 'running', 'done', 'cancelled')),
    claimed_at     timestamptz,
    outcome        text,
    summary        text
);
CREATE INDEX scheduled_checks_due ON scheduled_checks (due_at)
    WHERE state IN ('pending', 'running');

-- A regression found long after resolving opens a new incident linked to
-- the old one.
ALTER TABLE incidents ADD COLUMN regression_of bigint REFERENCES incidents (id);

-- An incident's lead (a Discord user; handovers are in the timeline), and
-- the thread's pinned header message that shows severity, lead, state and
-- the next scheduled check.
ALTER TABLE incidents
    ADD COLUMN lead_id           bigint,
    ADD COLUMN header_message_id bigint;

-- Follow-ups: prevention work an incident leaves behind, each with an
-- owner and a due date, open until marked done.
CREATE TABLE followups (
    id          bigserial PRIMARY KEY,
    incident_id bigint      NOT NULL REFERENCES incidents (id),
    text        text        NOT NULL,
    owner_id    bigint      NOT NULL,
    due_on      date        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('open', 'done')),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    done_by     text,
    done_at     timestamptz
);
CREATE INDEX followups_open ON followups (due_on) WHERE state = 'open';
