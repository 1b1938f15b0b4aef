-- Reading and reviewing report-backs (issue 13): a campaign may ask for two parts (a work
-- summary and a next-year plan), names its reviewers (a panel; none named: the staff of the
-- campaign's org and its creator), and is reviewed (述职评议) on a rubric once it is due.

-- how many parts a report has (1: one report; 2: 'summary' + 'plan'), the grades of the
-- rubric best first, separated by '|' ('' = the default 好|较好|一般|差), and how results are
-- worked out ('average' of grade points, or 'majority')
ALTER TABLE campaigns ADD COLUMN parts INTEGER NOT NULL DEFAULT 1 CHECK (parts IN (1, 2));
ALTER TABLE campaigns ADD COLUMN rubric TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN method TEXT NOT NULL DEFAULT 'average'
    CHECK (method IN ('average', 'majority'));

-- The parts of a two-part report, one current version each. The campaign_submissions row of
-- the org is written once both parts are in (its time is that of the later part).
CREATE TABLE campaign_parts (
    campaign_id  INTEGER NOT NULL,
    org_id       INTEGER NOT NULL,
    part         TEXT NOT NULL CHECK (part IN ('summary', 'plan')),
    user_id      INTEGER NOT NULL,
    text         TEXT CHECK (text IS NULL OR length(text) <= 4096),
    file_id      TEXT,
    file_name    TEXT,
    file_size    INTEGER,
    submitted_at REAL NOT NULL,
    late         INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
    versions     INTEGER NOT NULL DEFAULT 1,
    CHECK (text IS NOT NULL OR file_id IS NOT NULL),
    PRIMARY KEY (campaign_id, org_id, part),
    FOREIGN KEY (campaign_id, org_id) REFERENCES campaign_orgs(campaign_id, org_id)
);

-- A campaign's reviewers: the panel named at creation, or (written when the review opens)
-- the staff of the campaign's org and its creator.
CREATE TABLE campaign_reviewers (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    user_id     INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, user_id)
);
CREATE INDEX campaign_reviewers_user ON campaign_reviewers(user_id);

-- One review per campaign: open, then closed (results fixed).
CREATE TABLE reviews (
    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id),
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_by   INTEGER NOT NULL,
    opened_at   REAL NOT NULL,
    closed_at   REAL
);

-- One decision per reviewer per org's report: a grade (index into the rubric, 0 = best) and
-- an optional comment; replaced until the review closes.
CREATE TABLE review_scores (
    campaign_id INTEGER NOT NULL REFERENCES reviews(campaign_id),
    org_id      INTEGER NOT NULL,
    reviewer_id INTEGER NOT NULL,
    grade       INTEGER CHECK (grade IS NULL OR grade BETWEEN 0 AND 9),
    comment     TEXT CHECK (comment IS NULL OR length(comment) <= 500),
    scored_at   REAL NOT NULL,
    PRIMARY KEY (campaign_id, org_id, reviewer_id)
);
CREATE INDEX review_scores_reviewer ON review_scores(reviewer_id);

-- What closing the review worked out, per org: the grade (NULL: nobody scored), the mean of
-- the grade points, how many scored, and whether a tie was broken (towards the lower grade).
CREATE TABLE review_results (
    campaign_id INTEGER NOT NULL REFERENCES reviews(campaign_id),
    org_id      INTEGER NOT NULL,
    grade       INTEGER,
    points      REAL,
    scored      INTEGER NOT NULL,
    tie         INTEGER NOT NULL DEFAULT 0 CHECK (tie IN (0, 1)),
    PRIMARY KEY (campaign_id, org_id)
);
