-- A fleet: one bot node per Docker host, all on this database, which
-- coordinates them. Each node publishes a heartbeat and its latest samples
-- (ages are turned into times on this database's clock, so the hosts'
-- clocks need not agree); singleton roles are leases with a fencing token;
-- every interaction is claimed once; an approved action names the node
-- whose engine runs its container.
CREATE TABLE nodes (
    name              text PRIMARY KEY,
    -- host:pid:start of the process that published last.
    instance          text NOT NULL,
    host_memory_bytes bigint NOT NULL DEFAULT 0 CHECK (host_memory_bytes >= 0),
    -- How its memory is read ('kernel' or 'stats_api'), and why its engine
    -- is not followed, while it is not.
    via               text,
    engine_error      text,
    -- 'gateway' (holds the gateway lease), 'standby' or 'http'.
    role              text NOT NULL DEFAULT 'standby',
    -- Its latest publish, and the latest one with its engine followed
    -- (fresh samples): a node whose engine is away still publishes.
    seen_at           timestamptz NOT NULL,
    data_at           timestamptz,
    -- Set when its silence was said in the incident channel (once), cleared
    -- when that it is back was said.
    blind_since       timestamptz,
    -- The blind_since its latest publish cleared, read from the row it
    -- locked (so a blind spot claimed a moment before is not missed): its
    -- return is said from this.
    back_from         timestamptz
);

CREATE TABLE node_samples (
    node         text NOT NULL REFERENCES nodes (name) ON DELETE CASCADE,
    container_id text NOT NULL,
    container    text NOT NULL,
    service      text,
    project      text,
    state        text NOT NULL CHECK (state IN ('sampled', 'gone', 'failed')),
    usage_bytes  bigint,
    limit_bytes  bigint,
    reason       text,
    -- When it was read; NULL: no sample yet.
    at           timestamptz,
    PRIMARY KEY (node, container_id)
);

CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text,
    instance   text,
    -- Raised by one on every change of holder: whoever acts on the lease
    -- shows the token it got, and a stale holder's token no longer matches.
    token      bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO leases (name) VALUES ('gateway');

-- Every interaction is answered by one node: the first to claim it.
CREATE TABLE interactions (
    id    bigint PRIMARY KEY,
    node  text NOT NULL,
    -- The gateway lease's token it was claimed under (NULL over HTTP).
    token bigint,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interactions_at ON interactions (at);

-- The host whose engine runs the request's container: only that node
-- executes it. NULL for requests of a single bot.
ALTER TABLE action_requests ADD COLUMN node text;
