-- Attendance marked by the organiser, revoked hours and evidence for hours (issue 14, items 5, 7).
--
-- hour_entries gains the status 'revoked' (a wrongly approved entry taken back by a secretary
-- or staff member of its subtree, or by the organiser undoing attendance after /close: who,
-- when, why; out of every total) and its evidence: 'photo' (a photo sent with /hours, its
-- Telegram file_id kept until /forgetme), 'checkin' (credited at /close for a check-in) or
-- 'marked' (credited because the organiser marked the person present). SQLite cannot change a
-- CHECK in place, so the table is rebuilt (nothing references it by foreign key) with its
-- indexes and triggers.

CREATE TABLE hour_entries_new (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    served_on     TEXT NOT NULL CHECK (length(served_on) = 10),
    quarters      INTEGER NOT NULL CHECK (quarters BETWEEN 1 AND 96),
    description   TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'rejected', 'revoked')),
    source        TEXT NOT NULL DEFAULT 'self',
    created_at    REAL NOT NULL,
    decided_by    INTEGER,
    decided_at    REAL,
    reason        TEXT CHECK (reason IS NULL OR length(reason) <= 500),
    revoked_by    INTEGER,
    revoked_at    REAL,
    revoke_reason TEXT CHECK (revoke_reason IS NULL OR length(revoke_reason) BETWEEN 1 AND 500),
    evidence      TEXT CHECK (evidence IN ('photo', 'checkin', 'marked')),
    photo_file_id TEXT CHECK (photo_file_id IS NULL OR length(photo_file_id) <= 200),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL AND revoke_reason IS NOT NULL))
);
INSERT INTO hour_entries_new(id, user_id, org_id, served_on, quarters, description, status,
    source, created_at, decided_by, decided_at, reason, evidence)
SELECT id, user_id, org_id, served_on, quarters, description, status, source, created_at,
    decided_by, decided_at, reason,
    CASE WHEN source LIKE 'activity:%' THEN 'checkin' END
FROM hour_entries;
DROP TABLE hour_entries;
ALTER TABLE hour_entries_new RENAME TO hour_entries;
CREATE INDEX hour_entries_org ON hour_entries(status, org_id, served_on, quarters, user_id);
CREATE INDEX hour_entries_user ON hour_entries(user_id, served_on);

-- A decision is final. Two changes only: /forgetme's re-pointing (0009: the author, the
-- approver or the revoker moved to a tombstone; the description's words about the author
-- redacted and the photo dropped with the author, the revoker's reason redacted with the
-- revoker), and approved -> revoked, once, with who,
-- when and a reason, nothing else changing.
CREATE TRIGGER hour_entries_decided_immutable
BEFORE UPDATE ON hour_entries
WHEN OLD.status <> 'pending' AND NOT (
    NEW.id = OLD.id AND NEW.org_id = OLD.org_id AND NEW.served_on = OLD.served_on
    AND NEW.quarters = OLD.quarters AND NEW.source = OLD.source
    AND NEW.created_at = OLD.created_at AND NEW.decided_at IS OLD.decided_at
    AND NEW.reason IS OLD.reason AND NEW.evidence IS OLD.evidence
    AND ((
        NEW.status = OLD.status AND NEW.revoked_at IS OLD.revoked_at
        AND (NEW.revoke_reason IS OLD.revoke_reason
             OR (NEW.revoked_by IS NOT OLD.revoked_by AND NEW.revoke_reason IS NOT NULL))
        AND (NEW.user_id = OLD.user_id
             OR (OLD.user_id > 0 AND NEW.user_id IN (SELECT id FROM tombstones)))
        AND (NEW.decided_by IS OLD.decided_by
             OR (OLD.decided_by > 0 AND NEW.decided_by IN (SELECT id FROM tombstones)))
        AND (NEW.revoked_by IS OLD.revoked_by
             OR (OLD.revoked_by > 0 AND NEW.revoked_by IN (SELECT id FROM tombstones)))
        AND (NEW.description = OLD.description OR NEW.user_id <> OLD.user_id)
        AND (NEW.photo_file_id IS OLD.photo_file_id
             OR (NEW.photo_file_id IS NULL AND NEW.user_id <> OLD.user_id))
    ) OR (
        OLD.status = 'approved' AND NEW.status = 'revoked'
        AND NEW.user_id = OLD.user_id AND NEW.decided_by IS OLD.decided_by
        AND NEW.description = OLD.description AND NEW.photo_file_id IS OLD.photo_file_id
        AND OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
        AND NEW.revoked_by IS NOT NULL AND length(trim(NEW.revoke_reason)) >= 1
    ))
)
BEGIN
    SELECT RAISE(ABORT, 'decided hour entries are immutable');
END;

-- approved hours are never deleted, not even by /forgetme (they stay, anonymised)
CREATE TRIGGER hour_entries_approved_kept
BEFORE DELETE ON hour_entries
WHEN OLD.status = 'approved'
BEGIN
    SELECT RAISE(ABORT, 'approved hour entries cannot be deleted');
END;

CREATE TRIGGER hour_totals_on_insert
AFTER INSERT ON hour_entries
WHEN NEW.status = 'approved'
BEGIN
    INSERT INTO hour_totals(org_id, year, quarters, entries)
    VALUES (NEW.org_id, CAST(substr(NEW.served_on, 1, 4) AS INTEGER), NEW.quarters, 1)
    ON CONFLICT(org_id, year) DO UPDATE
    SET quarters = quarters + excluded.quarters, entries = entries + 1;
END;

CREATE TRIGGER hour_totals_on_approve
AFTER UPDATE OF status ON hour_entries
WHEN NEW.status = 'approved' AND OLD.status <> 'approved'
BEGIN
    INSERT INTO hour_totals(org_id, year, quarters, entries)
    VALUES (NEW.org_id, CAST(substr(NEW.served_on, 1, 4) AS INTEGER), NEW.quarters, 1)
    ON CONFLICT(org_id, year) DO UPDATE
    SET quarters = quarters + excluded.quarters, entries = entries + 1;
END;

-- a revoked entry leaves the totals
CREATE TRIGGER hour_totals_on_revoke
AFTER UPDATE OF status ON hour_entries
WHEN OLD.status = 'approved' AND NEW.status <> 'approved'
BEGIN
    UPDATE hour_totals SET quarters = quarters - OLD.quarters, entries = entries - 1
    WHERE org_id = OLD.org_id AND year = CAST(substr(OLD.served_on, 1, 4) AS INTEGER);
END;

-- a same-day duplicate waiting for its author's Yes keeps the photo sent with it
ALTER TABLE hour_drafts ADD COLUMN photo_file_id TEXT;

-- the organiser's mark on a confirmed sign-up ('present' / 'no_show'; NULL: as check-in says).
-- After /close, `attendance` is what counts (the mark, else the check-in) and `hour_entry_id`
-- the entry it credited.
ALTER TABLE activity_signups ADD COLUMN marked TEXT CHECK (marked IN ('present', 'no_show'));

-- every attendance mark an organiser made, and what it did to the hours: kept as the
-- activity's record (/forgetme re-points user_id and by_user to tombstones)
CREATE TABLE attendance_marks (
    id          INTEGER PRIMARY KEY,
    activity_id INTEGER NOT NULL REFERENCES activities(id),
    user_id     INTEGER NOT NULL,
    mark        TEXT NOT NULL CHECK (mark IN ('present', 'no_show', 'undo')),
    by_user     INTEGER NOT NULL,
    at          REAL NOT NULL,
    after_close INTEGER NOT NULL DEFAULT 0 CHECK (after_close IN (0, 1)),
    credited    INTEGER,                       -- the hour entry this mark credited
    revoked     INTEGER                        -- the hour entry this mark revoked
);
CREATE INDEX attendance_marks_activity ON attendance_marks(activity_id, id);
CREATE INDEX attendance_marks_user ON attendance_marks(user_id);
CREATE INDEX attendance_marks_by ON attendance_marks(by_user);
