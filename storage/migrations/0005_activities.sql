-- Activities: one row per event, one sign-up row per person and activity, one row per card
-- copy posted in a chat. Times are Unix seconds (UTC); hours are quarter-hours like
-- hour_entries. `confirmed`/`waiting` are counters kept in the sign-up transaction; the CHECK
-- guards the capacity a second time. `version` bumps on every change that a card shows; a
-- card copy whose `shown_version` is behind is edited by the (coalescing) card editor.

CREATE TABLE activities (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    title         TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    place         TEXT NOT NULL CHECK (length(place) BETWEEN 1 AND 200),
    starts_at     REAL NOT NULL,
    quarters      INTEGER NOT NULL CHECK (quarters BETWEEN 1 AND 96),
    capacity      INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    lat           REAL,
    lon           REAL,
    radius_m      INTEGER NOT NULL DEFAULT 300,
    lang          TEXT NOT NULL DEFAULT 'zh',
    status        TEXT NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'closed', 'cancelled')),
    confirmed     INTEGER NOT NULL DEFAULT 0,
    waiting       INTEGER NOT NULL DEFAULT 0,
    next_seq      INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    checkin_open  INTEGER NOT NULL DEFAULT 0,
    created_by    INTEGER NOT NULL,
    created_at    REAL NOT NULL,
    ended_at      REAL,
    CHECK (confirmed BETWEEN 0 AND capacity),
    CHECK (waiting >= 0)
);
CREATE INDEX activities_org ON activities(org_id, status, starts_at);

CREATE TABLE activity_signups (
    activity_id   INTEGER NOT NULL REFERENCES activities(id),
    user_id       INTEGER NOT NULL REFERENCES users(id),
    status        TEXT NOT NULL CHECK (status IN ('confirmed', 'waiting', 'cancelled')),
    seq           INTEGER NOT NULL,               -- press order within the activity
    joined_at     REAL NOT NULL,
    checked_in_at REAL,
    attendance    TEXT CHECK (attendance IN ('present', 'no_show')),
    hour_entry_id INTEGER,
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX activity_signups_queue ON activity_signups(activity_id, status, seq);
CREATE INDEX activity_signups_user ON activity_signups(user_id, status);

-- every message carrying an activity's buttons: the sign-up cards (kept live) and the
-- check-in buttons; a press is accepted only on a message recorded here for that activity
CREATE TABLE activity_cards (
    id            INTEGER PRIMARY KEY,
    activity_id   INTEGER NOT NULL REFERENCES activities(id),
    chat_id       INTEGER NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'card' CHECK (kind IN ('card', 'checkin')),
    message_id    INTEGER,                        -- NULL until the outbox has sent it
    outbox_id     INTEGER,
    shown_version INTEGER NOT NULL DEFAULT 0,
    gone          INTEGER NOT NULL DEFAULT 0,     -- deleted, or the chat is lost
    UNIQUE (activity_id, chat_id, kind)
);
CREATE INDEX activity_cards_message ON activity_cards(chat_id, message_id);
CREATE INDEX activity_cards_activity ON activity_cards(activity_id);
