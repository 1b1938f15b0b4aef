-- The tower: orgs, chats bound to them, Telegram users, registered people, roles,
-- guided-flow state, the durable outbox, and a small key/value table for bookkeeping.
-- Times are Unix seconds (UTC).

CREATE TABLE orgs (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind       TEXT,
    parent_id  INTEGER REFERENCES orgs(id),
    -- materialised path '/1/5/12/': a subtree is `path LIKE '/1/5/%'`
    path       TEXT NOT NULL DEFAULT '',
    depth      INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX orgs_parent ON orgs(parent_id);
CREATE INDEX orgs_path ON orgs(path);

CREATE TABLE chats (
    id          INTEGER PRIMARY KEY,            -- Telegram chat id
    type        TEXT NOT NULL,                  -- group | supergroup | channel
    title       TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1,     -- bot is a member
    is_admin    INTEGER NOT NULL DEFAULT 0,
    org_id      INTEGER UNIQUE REFERENCES orgs(id),  -- one chat per org
    migrated_to INTEGER,
    updated_at  REAL NOT NULL
);

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,           -- Telegram user id
    first_name   TEXT NOT NULL DEFAULT '',
    username     TEXT,
    tg_lang      TEXT,
    lang         TEXT CHECK (lang IN ('zh', 'en')),
    started      INTEGER NOT NULL DEFAULT 0,    -- has a private chat with the bot
    reachable    INTEGER NOT NULL DEFAULT 1,    -- 0 after 403 blocked / not started
    updated_at   REAL NOT NULL
);
CREATE INDEX users_username ON users(lower(username));

CREATE TABLE people (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id),
    real_name     TEXT NOT NULL CHECK (length(real_name) BETWEEN 1 AND 50),
    phone         TEXT,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    consent_at    REAL NOT NULL,
    registered_at REAL NOT NULL,
    updated_at    REAL NOT NULL
);
CREATE INDEX people_org ON people(org_id);

CREATE TABLE roles (
    org_id     INTEGER NOT NULL REFERENCES orgs(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('secretary', 'staff')),
    granted_by INTEGER,
    granted_at REAL NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX roles_user ON roles(user_id);

CREATE TABLE flows (
    user_id    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER NOT NULL,
    user_id     INTEGER,                         -- set for private messages (fallback on 403)
    kind        TEXT NOT NULL DEFAULT 'message', -- message | document | photo
    payload     TEXT NOT NULL,                   -- JSON: text, parse_mode, reply_markup, ...
    ref         TEXT,                            -- what it belongs to, e.g. 'announce:5'
    dedupe_key  TEXT UNIQUE,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  REAL NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    sent_at     REAL,
    message_ids TEXT,                            -- JSON list of sent message ids
    error       TEXT
);
CREATE INDEX outbox_pending ON outbox(status, not_before, id);
CREATE INDEX outbox_ref ON outbox(ref);

CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
