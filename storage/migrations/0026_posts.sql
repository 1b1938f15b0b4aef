-- Posts and shifts (issue 14, item 4): an activity may be split into posts (引导, 检票, 医疗),
-- each with its own capacity, counters and waitlist, and optionally a shift (absolute Unix
-- times on the activity's day) whose length is the hours its people are credited.
-- `activities.post_count` says how many rows a card needs (0: an activity as before, with one
-- capacity); with posts, the activity's capacity/confirmed/waiting are the sums of its posts'.
-- A sign-up names its post (`post_no`, NULL without posts); the sign-up's primary key keeps a
-- person to one post per activity.
CREATE TABLE activity_posts (
    activity_id   INTEGER NOT NULL REFERENCES activities(id),
    post_no       INTEGER NOT NULL CHECK (post_no BETWEEN 1 AND 20),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 16),
    capacity      INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    shift_start   REAL,
    shift_end     REAL,
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
