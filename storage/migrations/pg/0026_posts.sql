-- PostgreSQL variant of 0026_posts.sql: posts and shifts of an activity (issue 14, item 4).
CREATE TABLE activity_posts (
    activity_id   BIGINT NOT NULL REFERENCES activities(id),
    post_no       INTEGER NOT NULL CHECK (post_no BETWEEN 1 AND 20),
    name          TEXT COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 16),
    capacity      INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    shift_start   DOUBLE PRECISION,
    shift_end     DOUBLE PRECISION,
    confirmed     INTEGER NOT NULL DEFAULT 0,
    waiting       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (activity_id, post_no),
    CHECK (confirmed BETWEEN 0 AND capacity),
    CHECK (waiting >= 0),
    CHECK ((shift_start IS NULL) = (shift_end IS NULL)),
    CHECK (shift_end IS NULL OR shift_end > shift_start)
);
ALTER TABLE activities ADD COLUMN post_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activity_signups ADD COLUMN post_no INTEGER;
CREATE INDEX activity_signups_post ON activity_signups(activity_id, post_no, status, seq);
