-- Outbox: transient send failures (timeouts, network errors) counted apart from `attempts`,
-- which also counts 429 flood waits; the sender gives up after 10 failures, never after 429s.
ALTER TABLE outbox ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
