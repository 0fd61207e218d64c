-- An alert that fires again while it is still firing (a container the OOM
-- killer takes again and again) is one alert: its occurrences are counted
-- and its one report message is updated in place, never posted anew.
ALTER TABLE alerts
    ADD COLUMN occurrences integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    ADD COLUMN last_at     timestamptz,
    ADD COLUMN channel_id  bigint,
    ADD COLUMN message_id  bigint;
