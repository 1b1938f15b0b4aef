-- Every timed message the bot owes (activity reminders, campaign ladders, digests) is a row
-- here; APScheduler only holds one timer for the earliest pending row. A row fires once:
-- claiming it (pending -> done) and enqueueing its messages happen in one transaction.
CREATE TABLE reminders (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,             -- 'activity', 'campaign', ...
    ref_id   INTEGER NOT NULL,          -- the activity / campaign id
    step     TEXT NOT NULL,             -- '24h', 'due', 'overdue:3', ...
    due_at   REAL NOT NULL,
    status   TEXT NOT NULL DEFAULT 'pending'
             CHECK (status IN ('pending', 'done', 'missed', 'cancelled')),
    fired_at REAL,
    UNIQUE (kind, ref_id, step)
);
CREATE INDEX reminders_due ON reminders(status, due_at);
CREATE INDEX reminders_ref ON reminders(kind, ref_id);
