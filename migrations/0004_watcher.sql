-- The live watcher's recorded history (down-sampled: a point per container
-- per persist interval) and alert state (the bot's own alerts and
-- Alertmanager's), each linked to the incident it opened or joined.

CREATE TABLE memory_samples (
    container_id text        NOT NULL,
    container    text        NOT NULL,
    service      text,
    at           timestamptz NOT NULL,
    usage_bytes  bigint      NOT NULL CHECK (usage_bytes >= 0),
    limit_bytes  bigint,
    PRIMARY KEY (container_id, at)
);
CREATE INDEX memory_samples_at ON memory_samples (at);
CREATE INDEX memory_samples_service_at ON memory_samples (service, at);

CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    -- Names one alert instance: `HighMemoryUsage/web` for the bot's own,
    -- `am:<fingerprint>` for Alertmanager's.
    fingerprint text        NOT NULL,
    name        text        NOT NULL,
    -- The Compose service it concerns; NULL for the project's total.
    service     text,
    source      text        NOT NULL CHECK (source IN ('bot', 'alertmanager')),
    summary     text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('firing', 'resolved')),
    started_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    incident_id bigint      REFERENCES incidents (id)
);
-- While an alert keeps firing it is one row: repeats are no-ops.
CREATE UNIQUE INDEX alerts_firing_once ON alerts (fingerprint) WHERE state = 'firing';
CREATE INDEX alerts_incident ON alerts (incident_id);
