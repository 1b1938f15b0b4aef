-- Trust (issue items 11, 12). A reminder whose handler raised is recorded as 'failed' (it did
-- not fire, and it was not merely late): SQLite cannot widen a CHECK in place, so the table is
-- rebuilt with its indexes. Nothing references `reminders` by foreign key.
CREATE TABLE reminders_new (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    ref_id   INTEGER NOT NULL,
    step     TEXT NOT NULL,
    due_at   REAL NOT NULL,
    status   TEXT NOT NULL DEFAULT 'pending'
             CHECK (status IN ('pending', 'done', 'missed', 'failed', 'cancelled')),
    fired_at REAL,
    UNIQUE (kind, ref_id, step)
);
INSERT INTO reminders_new(id, kind, ref_id, step, due_at, status, fired_at)
    SELECT id, kind, ref_id, step, due_at, status, fired_at FROM reminders;
DROP TABLE reminders;
ALTER TABLE reminders_new RENAME TO reminders;
CREATE INDEX reminders_due ON reminders(status, due_at);
CREATE INDEX reminders_ref ON reminders(kind, ref_id);

-- The outbox links a card copy it sent to its activity_cards row in the transaction that marks
-- the row sent (a card queued because the direct reply hit a 429 or the bot died): by outbox id.
CREATE INDEX activity_cards_outbox ON activity_cards(outbox_id) WHERE outbox_id IS NOT NULL;
