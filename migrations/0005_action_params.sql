-- Actions beyond restarts: what a request does, in words, and its typed
-- parameters (close idle sessions older than N minutes; recreate a worker
-- with a concurrency), fixed when it is requested, so approvers approve
-- exactly what will run.

ALTER TABLE action_requests
    ADD COLUMN title  text  NOT NULL DEFAULT '',
    ADD COLUMN params jsonb NOT NULL DEFAULT '{}'::jsonb;
