-- Announcements down the tower, their acknowledgements, the evening digest of messages over a
-- chat's daily budget, and the coverage audit's last result per person and chat.

CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs(id),   -- the org it was posted from
    chat_id    INTEGER NOT NULL,                       -- the chat it was posted in
    author_id  INTEGER NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'photo', 'document')),
    text       TEXT NOT NULL DEFAULT '',               -- safe HTML
    file_id    TEXT,
    urgent     INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    created_at REAL NOT NULL,
    CHECK ((kind = 'message') = (file_id IS NULL))
);
CREATE INDEX announcements_org ON announcements(org_id, id);

-- one copy per active bound chat of the subtree, fixed when posted
CREATE TABLE announcement_targets (
    announcement_id INTEGER NOT NULL REFERENCES announcements(id),
    chat_id         INTEGER NOT NULL,
    org_id          INTEGER NOT NULL REFERENCES orgs(id),
    outbox_id       INTEGER,                           -- NULL: folded into the digest
    PRIMARY KEY (announcement_id, chat_id)
);
CREATE INDEX announcement_targets_chat ON announcement_targets(chat_id);

-- "收到 / Received": once per person and announcement, with the chat where it was pressed
CREATE TABLE announcement_acks (
    announcement_id INTEGER NOT NULL REFERENCES announcements(id),
    user_id         INTEGER NOT NULL,
    chat_id         INTEGER NOT NULL,
    first_name      TEXT NOT NULL DEFAULT '',          -- Telegram display name at the press
    acked_at        REAL NOT NULL,
    PRIMARY KEY (announcement_id, user_id)
);
CREATE INDEX announcement_acks_chat ON announcement_acks(announcement_id, chat_id);

-- Quiet by design: a group's bot-started message over its daily budget waits here for the
-- evening digest (SQLite cannot widen the outbox's status CHECK, so it is a table of its own).
CREATE TABLE digest_items (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL,
    kind       TEXT NOT NULL DEFAULT 'message',
    payload    TEXT NOT NULL,                          -- the outbox payload (JSON)
    ref        TEXT,
    dedupe_key TEXT UNIQUE,
    created_at REAL NOT NULL,
    outbox_id  INTEGER                                 -- the digest message it went out in
);
CREATE INDEX digest_items_chat ON digest_items(chat_id, outbox_id);
CREATE INDEX digest_items_ref ON digest_items(ref);

-- counting a chat's bot-started messages of the day
CREATE INDEX outbox_chat_created ON outbox(chat_id, created_at);

-- Coverage audit: the last getChatMember result per person and chat
CREATE TABLE chat_presence (
    chat_id    INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('present', 'missing')),
    checked_at REAL NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_presence_user ON chat_presence(user_id);
