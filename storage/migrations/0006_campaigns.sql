-- Report-back (述职) campaigns: a title and a due time, owed to `org_id` (the org above) by
-- the orgs listed in campaign_orgs (fixed when the campaign is created). What is scheduled for
-- a campaign lives in `reminders` (kind 'campaign'); nothing here holds a chat id: the board
-- and the escalation go to whatever chat is bound to the org when they fire.
CREATE TABLE campaigns (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs(id),
    title        TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    due_at       REAL NOT NULL,
    scope        TEXT NOT NULL DEFAULT 'children' CHECK (scope IN ('children', 'all')),
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cancelled')),
    created_by   INTEGER NOT NULL,
    created_at   REAL NOT NULL,
    cancelled_by INTEGER,
    cancelled_at REAL
);
CREATE INDEX campaigns_org ON campaigns(org_id, status);

CREATE TABLE campaign_orgs (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    -- set once the staff above were told this org has no secretary
    no_secretary_told_at REAL,
    PRIMARY KEY (campaign_id, org_id)
);
CREATE INDEX campaign_orgs_org ON campaign_orgs(org_id);

-- One current report per (campaign, org); a resubmission replaces it.
CREATE TABLE campaign_submissions (
    campaign_id  INTEGER NOT NULL,
    org_id       INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    text         TEXT CHECK (text IS NULL OR length(text) <= 4096),
    file_id      TEXT,
    file_name    TEXT,
    file_size    INTEGER,
    submitted_at REAL NOT NULL,
    late         INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
    versions     INTEGER NOT NULL DEFAULT 1,
    CHECK (text IS NOT NULL OR file_id IS NOT NULL),
    PRIMARY KEY (campaign_id, org_id),
    FOREIGN KEY (campaign_id, org_id) REFERENCES campaign_orgs(campaign_id, org_id)
);
