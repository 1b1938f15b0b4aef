-- Volunteer service hours. Hours are stored as whole quarter-hours (1..96), so sums are exact.
-- `org_id` is the person's org when the entry was logged; `served_on` is the local date
-- (YYYY-MM-DD in the configured time zone). Entries keep `user_id` after /forgetme (the people
-- row is deleted, the users row stays), so approved totals survive anonymised.

CREATE TABLE hour_entries (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    served_on   TEXT NOT NULL CHECK (length(served_on) = 10),
    quarters    INTEGER NOT NULL CHECK (quarters BETWEEN 1 AND 96),
    description TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected')),
    source      TEXT NOT NULL DEFAULT 'self',     -- 'self', or e.g. 'activity:12' for credits
    created_at  REAL NOT NULL,
    decided_by  INTEGER,
    decided_at  REAL,
    reason      TEXT CHECK (reason IS NULL OR length(reason) <= 500),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
-- subtree totals: (status, org_id) range per org, covering the summed columns
CREATE INDEX hour_entries_org ON hour_entries(status, org_id, served_on, quarters, user_id);
CREATE INDEX hour_entries_user ON hour_entries(user_id, served_on);

-- a decision is final: approved and rejected entries never change (a correction is a new entry)
CREATE TRIGGER hour_entries_decided_immutable
BEFORE UPDATE ON hour_entries
WHEN OLD.status <> 'pending'
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

-- approved quarter-hours per org and year, kept by triggers. Approved entries never change and
-- are never deleted, so these sums stay exact; subtree totals read ~orgs x years rows instead
-- of every entry (see bench/rollup.py).
CREATE TABLE hour_totals (
    org_id   INTEGER NOT NULL REFERENCES orgs(id),
    year     INTEGER NOT NULL,
    quarters INTEGER NOT NULL DEFAULT 0,
    entries  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, year)
);

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

-- a likely duplicate waits here until its author confirms it with a button
CREATE TABLE hour_drafts (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    served_on   TEXT NOT NULL,
    quarters    INTEGER NOT NULL CHECK (quarters BETWEEN 1 AND 96),
    description TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    created_at  REAL NOT NULL
);
CREATE INDEX hour_drafts_user ON hour_drafts(user_id);
