-- In a fleet, every node records its history in this one database: each
-- point names the node whose host runs the container, so reports across
-- hosts tell the same container name on two hosts apart. NULL: a single
-- bot's.
ALTER TABLE memory_samples ADD COLUMN node text;
