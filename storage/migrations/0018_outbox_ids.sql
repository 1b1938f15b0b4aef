-- Outbox ids are never used twice. Without AUTOINCREMENT SQLite hands out max(id) + 1, so once
-- /forgetme (or retention) deletes the newest rows, a new message could take the id of one
-- already sent: the sender's memory of sent ids, activity_cards.outbox_id and
-- announcement_targets.outbox_id would then point at the wrong message (an export was marked
-- sent without being sent). Same columns, same order, same indexes.
CREATE TABLE outbox_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL,
    user_id     INTEGER,
    kind        TEXT NOT NULL DEFAULT 'message',
    payload     TEXT NOT NULL,
    ref         TEXT,
    dedupe_key  TEXT UNIQUE,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  REAL NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    sent_at     REAL,
    message_ids TEXT,
    error       TEXT,
    failures    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO outbox_new (id, chat_id, user_id, kind, payload, ref, dedupe_key, status, attempts,
                        not_before, created_at, sent_at, message_ids, error, failures)
    SELECT id, chat_id, user_id, kind, payload, ref, dedupe_key, status, attempts,
           not_before, created_at, sent_at, message_ids, error, failures FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox(status, not_before, id);
CREATE INDEX outbox_ref ON outbox(ref);
CREATE INDEX outbox_chat_created ON outbox(chat_id, created_at);
