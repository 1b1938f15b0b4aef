-- Webhook inbox: every update Telegram POSTed and we answered 200 for, committed before the
-- answer, so a crash after the answer loses nothing. handled_at is set once the Application has
-- processed the update; handled rows are pruned after a day.

CREATE TABLE inbox (
    update_id   INTEGER PRIMARY KEY,          -- Telegram's id; a re-delivery is a duplicate
    chat_key    INTEGER NOT NULL DEFAULT 0,   -- the chat (or user) whose order it keeps
    body        TEXT NOT NULL,                -- the update as JSON, as received
    received_at REAL NOT NULL,
    handled_at  REAL
);
CREATE INDEX inbox_pending ON inbox(update_id) WHERE handled_at IS NULL;
CREATE INDEX inbox_handled ON inbox(handled_at) WHERE handled_at IS NOT NULL;
