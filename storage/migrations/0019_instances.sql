-- Several instances of the bot may share one database (webhook mode behind a load balancer).
-- Each records itself and a heartbeat; a named lease (e.g. 'sender': the one instance that
-- drains the outbox, so the overall RATE holds) is held by one instance until it expires.
-- Portable DDL: the same file serves SQLite and PostgreSQL (times are Unix seconds).
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,                 -- host:pid:random
    host       TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    mode       TEXT NOT NULL,                    -- polling | webhook | embedded
    started_at DOUBLE PRECISION NOT NULL,
    seen_at    DOUBLE PRECISION NOT NULL
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

-- Webhook rows belong to the instance that accepted them. A row is handled only when no
-- earlier row of the same chat, held by another instance, is still unhandled (one chat's
-- updates in update_id order across instances); rows of an instance whose heartbeat stopped
-- are adopted by a live one. Rows from before this migration (owner '') are adopted too.
ALTER TABLE inbox ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX inbox_chat_pending ON inbox(chat_key, update_id) WHERE handled_at IS NULL;
