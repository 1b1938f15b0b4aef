-- PostgreSQL variant of 0021_cadres.sql: cadre posts, their holders, and training activities.
CREATE TABLE cadre_posts (
    id         BIGSERIAL PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES orgs(id),
    position   TEXT COLLATE "C" NOT NULL CHECK (position IN ('secretary', 'deputy', 'committee')),
    created_at DOUBLE PRECISION NOT NULL,
    removed_at DOUBLE PRECISION
);
CREATE INDEX cadre_posts_org ON cadre_posts(org_id);

CREATE TABLE cadre_holdings (
    id           BIGSERIAL PRIMARY KEY,
    post_id      BIGINT NOT NULL REFERENCES cadre_posts(id),
    user_id      BIGINT NOT NULL,
    mode         TEXT COLLATE "C" CHECK (mode IS NULL OR mode IN ('full', 'seconded', 'part')),
    term_start   TEXT COLLATE "C" CHECK (term_start IS NULL OR length(term_start) = 10),
    term_end     TEXT COLLATE "C" CHECK (term_end IS NULL OR length(term_end) = 10),
    appointed_by BIGINT,
    started_at   DOUBLE PRECISION NOT NULL,
    ended_at     DOUBLE PRECISION
);
CREATE UNIQUE INDEX cadre_holdings_current ON cadre_holdings(post_id) WHERE ended_at IS NULL;
CREATE INDEX cadre_holdings_user ON cadre_holdings(user_id);

ALTER TABLE activities ADD COLUMN kind TEXT COLLATE "C"
    CHECK (kind IS NULL OR kind IN ('training', 'lesson'));
