-- PostgreSQL variant of 0019_instances.sql: instances sharing the database, named leases
-- (the outbox sender), and the owner of each webhook inbox row.
CREATE TABLE instances (
    id         TEXT COLLATE "C" PRIMARY KEY,
    host       TEXT COLLATE "C" NOT NULL,
    pid        BIGINT NOT NULL,
    mode       TEXT COLLATE "C" NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    seen_at    DOUBLE PRECISION NOT NULL
);

CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    owner      TEXT COLLATE "C" NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

ALTER TABLE inbox ADD COLUMN owner TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX inbox_chat_pending ON inbox(chat_key, update_id) WHERE handled_at IS NULL;
