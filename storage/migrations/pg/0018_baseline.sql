-- PostgreSQL baseline: the schema SQLite reaches after migrations 0001 … 0018, in one step.
-- A new database gets this file and 0001 … 0017 are recorded as applied (their data fixes had
-- nothing to fix). Later migrations keep SQLite's numbers: each NNNN_name.sql in the folder
-- above has its PostgreSQL variant here under the same number (tests/test_pg_migrations.py).
--
-- Differences from SQLite, all of them deliberate:
--   * ids and Telegram ids are BIGINT (chat ids exceed 32 bits); SQLite's rowid tables are
--     BIGSERIAL (outbox's sequence never hands an id out twice, like AUTOINCREMENT);
--   * small counts (quarters, entries, flags) stay INTEGER, so SUM() gives a BIGINT, not NUMERIC;
--   * times are DOUBLE PRECISION (Unix seconds with their fractions, like SQLite's REAL);
--   * text compares bytewise (COLLATE "C"), as SQLite's does: org paths' subtree ranges and
--     every ORDER BY come out the same on both engines;
--   * SQLite's RAISE(ABORT) triggers are plpgsql functions, and `instr` is defined below.

CREATE FUNCTION instr(haystack text, needle text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT strpos(haystack, needle) $$;

CREATE TABLE orgs (
    id         BIGSERIAL PRIMARY KEY,
    code       TEXT COLLATE "C" NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 64),
    name       TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind       TEXT COLLATE "C",
    parent_id  BIGINT REFERENCES orgs(id),
    path       TEXT COLLATE "C" NOT NULL DEFAULT '',
    depth      INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX orgs_parent ON orgs(parent_id);
CREATE INDEX orgs_path ON orgs(path);

CREATE TABLE chats (
    id          BIGINT PRIMARY KEY,
    type        TEXT COLLATE "C" NOT NULL,
    title       TEXT COLLATE "C" NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    org_id      BIGINT UNIQUE REFERENCES orgs(id),
    migrated_to BIGINT,
    updated_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE users (
    id           BIGINT PRIMARY KEY,
    first_name   TEXT COLLATE "C" NOT NULL DEFAULT '',
    username     TEXT COLLATE "C",
    tg_lang      TEXT COLLATE "C",
    lang         TEXT COLLATE "C" CHECK (lang IN ('zh', 'en')),
    started      INTEGER NOT NULL DEFAULT 0,
    reachable    INTEGER NOT NULL DEFAULT 1,
    updated_at   DOUBLE PRECISION NOT NULL
);
CREATE INDEX users_username ON users(lower(username));

CREATE TABLE people (
    user_id       BIGINT PRIMARY KEY REFERENCES users(id),
    real_name     TEXT COLLATE "C" NOT NULL CHECK (length(real_name) BETWEEN 1 AND 50),
    phone         TEXT COLLATE "C",
    org_id        BIGINT NOT NULL REFERENCES orgs(id),
    consent_at    DOUBLE PRECISION NOT NULL,
    registered_at DOUBLE PRECISION NOT NULL,
    updated_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX people_org ON people(org_id);

CREATE TABLE roles (
    org_id     BIGINT NOT NULL REFERENCES orgs(id),
    user_id    BIGINT NOT NULL REFERENCES users(id),
    role       TEXT COLLATE "C" NOT NULL CHECK (role IN ('secretary', 'staff')),
    granted_by BIGINT,
    granted_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX roles_user ON roles(user_id);

CREATE TABLE flows (
    user_id    BIGINT PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    state      TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE kv (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

CREATE TABLE outbox (
    id          BIGSERIAL PRIMARY KEY,
    chat_id     BIGINT NOT NULL,
    user_id     BIGINT,
    kind        TEXT COLLATE "C" NOT NULL DEFAULT 'message',
    payload     TEXT COLLATE "C" NOT NULL,
    ref         TEXT COLLATE "C",
    dedupe_key  TEXT COLLATE "C" UNIQUE,
    status      TEXT COLLATE "C" NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at  DOUBLE PRECISION NOT NULL,
    sent_at     DOUBLE PRECISION,
    message_ids TEXT COLLATE "C",
    error       TEXT COLLATE "C",
    failures    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox(status, not_before, id);
CREATE INDEX outbox_ref ON outbox(ref);
CREATE INDEX outbox_chat_created ON outbox(chat_id, created_at);

-- volunteer hours (0003, 0009)
CREATE TABLE hour_entries (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    served_on   TEXT COLLATE "C" NOT NULL CHECK (length(served_on) = 10),
    quarters    INTEGER NOT NULL CHECK (quarters BETWEEN 1 AND 96),
    description TEXT COLLATE "C" NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    status      TEXT COLLATE "C" NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected')),
    source      TEXT COLLATE "C" NOT NULL DEFAULT 'self',
    created_at  DOUBLE PRECISION NOT NULL,
    decided_by  BIGINT,
    decided_at  DOUBLE PRECISION,
    reason      TEXT COLLATE "C" CHECK (reason IS NULL OR length(reason) <= 500),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX hour_entries_org ON hour_entries(status, org_id, served_on, quarters, user_id);
CREATE INDEX hour_entries_user ON hour_entries(user_id, served_on);

CREATE TABLE tombstones (
    id BIGINT PRIMARY KEY CHECK (id < 0)
);

-- a decision is final, except for exactly the re-pointing /forgetme does (see 0009_forget.sql)
CREATE FUNCTION hour_entries_decided_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'pending' AND NOT (
        NEW.id = OLD.id AND NEW.org_id = OLD.org_id AND NEW.served_on = OLD.served_on
        AND NEW.quarters = OLD.quarters AND NEW.status = OLD.status AND NEW.source = OLD.source
        AND NEW.created_at = OLD.created_at
        AND NEW.decided_at IS NOT DISTINCT FROM OLD.decided_at
        AND NEW.reason IS NOT DISTINCT FROM OLD.reason
        AND (NEW.user_id = OLD.user_id
             OR (OLD.user_id > 0 AND NEW.user_id IN (SELECT id FROM tombstones)))
        AND (NEW.decided_by IS NOT DISTINCT FROM OLD.decided_by
             OR (OLD.decided_by > 0 AND NEW.decided_by IN (SELECT id FROM tombstones)))
        AND (NEW.description = OLD.description OR NEW.user_id <> OLD.user_id)
    ) THEN
        RAISE EXCEPTION 'decided hour entries are immutable' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hour_entries_decided_immutable BEFORE UPDATE ON hour_entries
    FOR EACH ROW EXECUTE FUNCTION hour_entries_decided_immutable();

-- approved hours are never deleted, not even by /forgetme (they stay, anonymised)
CREATE FUNCTION hour_entries_approved_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'approved hour entries cannot be deleted' USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER hour_entries_approved_kept BEFORE DELETE ON hour_entries
    FOR EACH ROW WHEN (OLD.status = 'approved') EXECUTE FUNCTION hour_entries_approved_kept();

-- approved quarter-hours per org and year, kept by triggers (see 0003_hours.sql)
CREATE TABLE hour_totals (
    org_id   BIGINT NOT NULL REFERENCES orgs(id),
    year     INTEGER NOT NULL,
    quarters INTEGER NOT NULL DEFAULT 0,
    entries  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, year)
);

CREATE FUNCTION hour_totals_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hour_totals(org_id, year, quarters, entries)
    VALUES (NEW.org_id, CAST(substr(NEW.served_on, 1, 4) AS INTEGER), NEW.quarters, 1)
    ON CONFLICT(org_id, year) DO UPDATE
    SET quarters = hour_totals.quarters + excluded.quarters, entries = hour_totals.entries + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER hour_totals_on_insert AFTER INSERT ON hour_entries
    FOR EACH ROW WHEN (NEW.status = 'approved') EXECUTE FUNCTION hour_totals_add();
CREATE TRIGGER hour_totals_on_approve AFTER UPDATE OF status ON hour_entries
    FOR EACH ROW WHEN (NEW.status = 'approved' AND OLD.status <> 'approved')
    EXECUTE FUNCTION hour_totals_add();

CREATE TABLE hour_drafts (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    served_on   TEXT COLLATE "C" NOT NULL,
    quarters    INTEGER NOT NULL CHECK (quarters BETWEEN 1 AND 96),
    description TEXT COLLATE "C" NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX hour_drafts_user ON hour_drafts(user_id);

-- reminders (0004, 0013)
CREATE TABLE reminders (
    id       BIGSERIAL PRIMARY KEY,
    kind     TEXT COLLATE "C" NOT NULL,
    ref_id   BIGINT NOT NULL,
    step     TEXT COLLATE "C" NOT NULL,
    due_at   DOUBLE PRECISION NOT NULL,
    status   TEXT COLLATE "C" NOT NULL DEFAULT 'pending'
             CHECK (status IN ('pending', 'done', 'missed', 'failed', 'cancelled')),
    fired_at DOUBLE PRECISION,
    UNIQUE (kind, ref_id, step)
);
CREATE INDEX reminders_due ON reminders(status, due_at);
CREATE INDEX reminders_ref ON reminders(kind, ref_id);

-- activities (0005, 0013)
CREATE TABLE activities (
    id            BIGSERIAL PRIMARY KEY,
    org_id        BIGINT NOT NULL REFERENCES orgs(id),
    title         TEXT COLLATE "C" NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    place         TEXT COLLATE "C" NOT NULL CHECK (length(place) BETWEEN 1 AND 200),
    starts_at     DOUBLE PRECISION NOT NULL,
    quarters      INTEGER NOT NULL CHECK (quarters BETWEEN 1 AND 96),
    capacity      INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    lat           DOUBLE PRECISION,
    lon           DOUBLE PRECISION,
    radius_m      INTEGER NOT NULL DEFAULT 300,
    lang          TEXT COLLATE "C" NOT NULL DEFAULT 'zh',
    status        TEXT COLLATE "C" NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'closed', 'cancelled')),
    confirmed     INTEGER NOT NULL DEFAULT 0,
    waiting       INTEGER NOT NULL DEFAULT 0,
    next_seq      INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    checkin_open  INTEGER NOT NULL DEFAULT 0,
    created_by    BIGINT NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    ended_at      DOUBLE PRECISION,
    CHECK (confirmed BETWEEN 0 AND capacity),
    CHECK (waiting >= 0)
);
CREATE INDEX activities_org ON activities(org_id, status, starts_at);

CREATE TABLE activity_signups (
    activity_id   BIGINT NOT NULL REFERENCES activities(id),
    user_id       BIGINT NOT NULL REFERENCES users(id),
    status        TEXT COLLATE "C" NOT NULL CHECK (status IN ('confirmed', 'waiting', 'cancelled')),
    seq           INTEGER NOT NULL,
    joined_at     DOUBLE PRECISION NOT NULL,
    checked_in_at DOUBLE PRECISION,
    attendance    TEXT COLLATE "C" CHECK (attendance IN ('present', 'no_show')),
    hour_entry_id BIGINT,
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX activity_signups_queue ON activity_signups(activity_id, status, seq);
CREATE INDEX activity_signups_user ON activity_signups(user_id, status);

CREATE TABLE activity_cards (
    id            BIGSERIAL PRIMARY KEY,
    activity_id   BIGINT NOT NULL REFERENCES activities(id),
    chat_id       BIGINT NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL DEFAULT 'card' CHECK (kind IN ('card', 'checkin')),
    message_id    BIGINT,
    outbox_id     BIGINT,
    shown_version INTEGER NOT NULL DEFAULT 0,
    gone          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (activity_id, chat_id, kind)
);
CREATE INDEX activity_cards_message ON activity_cards(chat_id, message_id);
CREATE INDEX activity_cards_activity ON activity_cards(activity_id);
CREATE INDEX activity_cards_outbox ON activity_cards(outbox_id) WHERE outbox_id IS NOT NULL;

-- report-back campaigns (0006)
CREATE TABLE campaigns (
    id           BIGSERIAL PRIMARY KEY,
    org_id       BIGINT NOT NULL REFERENCES orgs(id),
    title        TEXT COLLATE "C" NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    due_at       DOUBLE PRECISION NOT NULL,
    scope        TEXT COLLATE "C" NOT NULL DEFAULT 'children' CHECK (scope IN ('children', 'all')),
    status       TEXT COLLATE "C" NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cancelled')),
    created_by   BIGINT NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    cancelled_by BIGINT,
    cancelled_at DOUBLE PRECISION
);
CREATE INDEX campaigns_org ON campaigns(org_id, status);

CREATE TABLE campaign_orgs (
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    no_secretary_told_at DOUBLE PRECISION,
    PRIMARY KEY (campaign_id, org_id)
);
CREATE INDEX campaign_orgs_org ON campaign_orgs(org_id);

CREATE TABLE campaign_submissions (
    campaign_id  BIGINT NOT NULL,
    org_id       BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    text         TEXT COLLATE "C" CHECK (text IS NULL OR length(text) <= 4096),
    file_id      TEXT COLLATE "C",
    file_name    TEXT COLLATE "C",
    file_size    BIGINT,
    submitted_at DOUBLE PRECISION NOT NULL,
    late         INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
    versions     INTEGER NOT NULL DEFAULT 1,
    CHECK (text IS NOT NULL OR file_id IS NOT NULL),
    PRIMARY KEY (campaign_id, org_id),
    FOREIGN KEY (campaign_id, org_id) REFERENCES campaign_orgs(campaign_id, org_id)
);

-- announcements, acknowledgements, the digest and the coverage audit (0007)
CREATE TABLE announcements (
    id         BIGSERIAL PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES orgs(id),
    chat_id    BIGINT NOT NULL,
    author_id  BIGINT NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'photo', 'document')),
    text       TEXT COLLATE "C" NOT NULL DEFAULT '',
    file_id    TEXT COLLATE "C",
    urgent     INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    created_at DOUBLE PRECISION NOT NULL,
    CHECK ((kind = 'message') = (file_id IS NULL))
);
CREATE INDEX announcements_org ON announcements(org_id, id);

CREATE TABLE announcement_targets (
    announcement_id BIGINT NOT NULL REFERENCES announcements(id),
    chat_id         BIGINT NOT NULL,
    org_id          BIGINT NOT NULL REFERENCES orgs(id),
    outbox_id       BIGINT,
    PRIMARY KEY (announcement_id, chat_id)
);
CREATE INDEX announcement_targets_chat ON announcement_targets(chat_id);

CREATE TABLE announcement_acks (
    announcement_id BIGINT NOT NULL REFERENCES announcements(id),
    user_id         BIGINT NOT NULL,
    chat_id         BIGINT NOT NULL,
    first_name      TEXT COLLATE "C" NOT NULL DEFAULT '',
    acked_at        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (announcement_id, user_id)
);
CREATE INDEX announcement_acks_chat ON announcement_acks(announcement_id, chat_id);

CREATE TABLE digest_items (
    id         BIGSERIAL PRIMARY KEY,
    chat_id    BIGINT NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL DEFAULT 'message',
    payload    TEXT COLLATE "C" NOT NULL,
    ref        TEXT COLLATE "C",
    dedupe_key TEXT COLLATE "C" UNIQUE,
    created_at DOUBLE PRECISION NOT NULL,
    outbox_id  BIGINT
);
CREATE INDEX digest_items_chat ON digest_items(chat_id, outbox_id);
CREATE INDEX digest_items_ref ON digest_items(ref);

CREATE TABLE chat_presence (
    chat_id    BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    status     TEXT COLLATE "C" NOT NULL CHECK (status IN ('present', 'missing')),
    checked_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_presence_user ON chat_presence(user_id);

-- the webhook inbox (0008)
CREATE TABLE inbox (
    update_id   BIGINT PRIMARY KEY,
    chat_key    BIGINT NOT NULL DEFAULT 0,
    body        TEXT COLLATE "C" NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    handled_at  DOUBLE PRECISION
);
CREATE INDEX inbox_pending ON inbox(update_id) WHERE handled_at IS NULL;
CREATE INDEX inbox_handled ON inbox(handled_at) WHERE handled_at IS NOT NULL;

-- the audit log (0010)
CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    at        DOUBLE PRECISION NOT NULL,
    actor_id  BIGINT,
    action    TEXT COLLATE "C" NOT NULL CHECK (action IN ('export', 'mydata', 'role')),
    detail    TEXT COLLATE "C" NOT NULL DEFAULT '' CHECK (length(detail) <= 200),
    org_id    BIGINT REFERENCES orgs(id),
    target_id BIGINT
);
CREATE INDEX audit_log_org ON audit_log(org_id, id);

-- usernames seen (0012)
CREATE TABLE usernames (
    username   TEXT COLLATE "C" NOT NULL,
    user_id    BIGINT NOT NULL,
    first_seen DOUBLE PRECISION NOT NULL,
    last_seen  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (username, user_id)
);
CREATE INDEX usernames_user ON usernames(user_id);

-- minors and guardians (0014)
CREATE TABLE guardian_requests (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    user_id    BIGINT NOT NULL,
    org_id     BIGINT NOT NULL REFERENCES orgs(id),
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at    DOUBLE PRECISION
);
CREATE INDEX guardian_requests_user ON guardian_requests(user_id);

CREATE TABLE guardian_consents (
    id          BIGSERIAL PRIMARY KEY,
    minor_id    BIGINT NOT NULL,
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    method      TEXT COLLATE "C" NOT NULL CHECK (method IN ('telegram', 'paper')),
    guardian_id BIGINT,
    recorded_by BIGINT,
    request_id  BIGINT REFERENCES guardian_requests(id),
    at          DOUBLE PRECISION NOT NULL,
    CHECK ((method = 'telegram' AND guardian_id IS NOT NULL)
           OR (method = 'paper' AND recorded_by IS NOT NULL))
);
CREATE INDEX guardian_consents_minor ON guardian_consents(minor_id);

-- pre-registrations from a roster (0017)
CREATE TABLE roster (
    phone       TEXT COLLATE "C" PRIMARY KEY,
    real_name   TEXT COLLATE "C" NOT NULL,
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    role        TEXT COLLATE "C" CHECK (role IN ('secretary', 'staff')),
    imported_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX roster_org ON roster(org_id);

-- what this baseline stands for (the runner records 0018 itself)
INSERT INTO schema_migrations(version, name) VALUES
    (1, '0001_tower.sql'), (2, '0002_outbox.sql'), (3, '0003_hours.sql'),
    (4, '0004_reminders.sql'), (5, '0005_activities.sql'), (6, '0006_campaigns.sql'),
    (7, '0007_announcements.sql'), (8, '0008_inbox.sql'), (9, '0009_forget.sql'),
    (10, '0010_audit_log.sql'), (12, '0012_usernames.sql'), (13, '0013_trust.sql'),
    (14, '0014_minors.sql'), (17, '0017_roster.sql');
