-- Cadre posts (团干部职务) and who holds them (issue 13).
-- An org with no row here has one implicit 书记 post, filled when someone holds the
-- 'secretary' role there: today's "orgs with a secretary" stays the 配备率 until an org
-- declares its posts. Declaring starts with that 书记 post (held by the org's secretaries).
-- Holding the 书记 post and the 'secretary' role go together: appointing grants the role,
-- a handover or vacating takes it from the predecessor, so what is addressed by org + role
-- (pending approvals, report-backs owed) follows the post.
-- Personal data: cadre_holdings.user_id (deleted on /forgetme; the post becomes vacant).
CREATE TABLE cadre_posts (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs(id),
    position   TEXT NOT NULL CHECK (position IN ('secretary', 'deputy', 'committee')),
    created_at REAL NOT NULL,
    removed_at REAL
);
CREATE INDEX cadre_posts_org ON cadre_posts(org_id);

-- one row per holder and post; the current holder is the row with ended_at NULL (one per post)
CREATE TABLE cadre_holdings (
    id           INTEGER PRIMARY KEY,
    post_id      INTEGER NOT NULL REFERENCES cadre_posts(id),
    user_id      INTEGER NOT NULL,
    mode         TEXT CHECK (mode IS NULL OR mode IN ('full', 'seconded', 'part')),
    term_start   TEXT CHECK (term_start IS NULL OR length(term_start) = 10),
    term_end     TEXT CHECK (term_end IS NULL OR length(term_end) = 10),
    appointed_by INTEGER,
    started_at   REAL NOT NULL,
    ended_at     REAL
);
CREATE UNIQUE INDEX cadre_holdings_current ON cadre_holdings(post_id) WHERE ended_at IS NULL;
CREATE INDEX cadre_holdings_user ON cadre_holdings(user_id);

-- an activity may be a training (培训班 'training', 团课 'lesson'): attendance forms the
-- training record of each cadre
ALTER TABLE activities ADD COLUMN kind TEXT CHECK (kind IS NULL OR kind IN ('training', 'lesson'));
