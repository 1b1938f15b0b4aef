-- PostgreSQL variant of 0020_review.sql: two-part reports, reviewers, the review and its
-- scores and results.
ALTER TABLE campaigns ADD COLUMN parts INTEGER NOT NULL DEFAULT 1 CHECK (parts IN (1, 2));
ALTER TABLE campaigns ADD COLUMN rubric TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN method TEXT COLLATE "C" NOT NULL DEFAULT 'average'
    CHECK (method IN ('average', 'majority'));

CREATE TABLE campaign_parts (
    campaign_id  BIGINT NOT NULL,
    org_id       BIGINT NOT NULL,
    part         TEXT COLLATE "C" NOT NULL CHECK (part IN ('summary', 'plan')),
    user_id      BIGINT NOT NULL,
    text         TEXT COLLATE "C" CHECK (text IS NULL OR length(text) <= 4096),
    file_id      TEXT COLLATE "C",
    file_name    TEXT COLLATE "C",
    file_size    BIGINT,
    submitted_at DOUBLE PRECISION NOT NULL,
    late         INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
    versions     INTEGER NOT NULL DEFAULT 1,
    CHECK (text IS NOT NULL OR file_id IS NOT NULL),
    PRIMARY KEY (campaign_id, org_id, part),
    FOREIGN KEY (campaign_id, org_id) REFERENCES campaign_orgs(campaign_id, org_id)
);

CREATE TABLE campaign_reviewers (
    campaign_id BIGINT NOT NULL REFERENCES campaigns(id),
    user_id     BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, user_id)
);
CREATE INDEX campaign_reviewers_user ON campaign_reviewers(user_id);

CREATE TABLE reviews (
    campaign_id BIGINT PRIMARY KEY REFERENCES campaigns(id),
    status      TEXT COLLATE "C" NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_by   BIGINT NOT NULL,
    opened_at   DOUBLE PRECISION NOT NULL,
    closed_at   DOUBLE PRECISION
);

CREATE TABLE review_scores (
    campaign_id BIGINT NOT NULL REFERENCES reviews(campaign_id),
    org_id      BIGINT NOT NULL,
    reviewer_id BIGINT NOT NULL,
    grade       INTEGER CHECK (grade IS NULL OR grade BETWEEN 0 AND 9),
    comment     TEXT COLLATE "C" CHECK (comment IS NULL OR length(comment) <= 500),
    scored_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (campaign_id, org_id, reviewer_id)
);
CREATE INDEX review_scores_reviewer ON review_scores(reviewer_id);

CREATE TABLE review_results (
    campaign_id BIGINT NOT NULL REFERENCES reviews(campaign_id),
    org_id      BIGINT NOT NULL,
    grade       INTEGER,
    points      DOUBLE PRECISION,
    scored      INTEGER NOT NULL,
    tie         INTEGER NOT NULL DEFAULT 0 CHECK (tie IN (0, 1)),
    PRIMARY KEY (campaign_id, org_id)
);
