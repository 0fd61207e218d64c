-- Incidents, their timelines, and the audit log.

CREATE TABLE incidents (
    id                    bigserial PRIMARY KEY,
    runbook               text        NOT NULL,
    title                 text        NOT NULL,
    severity              text        NOT NULL,
    estimated_ttr_minutes integer     NOT NULL,
    state                 text        NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    -- Bumped by every change; every write is conditional on it.
    version               integer     NOT NULL DEFAULT 1,
    opened_at             timestamptz NOT NULL,
    opened_by             text        NOT NULL,
    acknowledged_at       timestamptz,
    acknowledged_by       text,
    resolved_at           timestamptz,
    resolved_by           text,
    resolution            text,
    channel_id            bigint      NOT NULL,
    thread_id             bigint UNIQUE
);
CREATE INDEX incidents_unresolved ON incidents (opened_at) WHERE state <> 'resolved';

CREATE TABLE timeline (
    id          bigserial PRIMARY KEY,
    incident_id bigint      NOT NULL REFERENCES incidents (id),
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    kind        text        NOT NULL,
    summary     text        NOT NULL,
    outcome     text,
    link        text
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, at, id);

-- Who did what, when, with what result: kept after incidents close.
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    target  text,
    result  text        NOT NULL,
    detail  jsonb
);
CREATE INDEX audit_log_by_time ON audit_log (at, id);

-- Append-only: rows can be added, never changed or removed.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
