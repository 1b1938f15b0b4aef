-- PostgreSQL variant of 0024_activity_edit.sql: a sign-up deadline, a description and an
-- edit count (the .ics SEQUENCE) on activities; who took each calendar file; uploads by key.
ALTER TABLE activities ADD COLUMN signup_deadline DOUBLE PRECISION;
ALTER TABLE activities ADD COLUMN note TEXT COLLATE "C" CHECK (note IS NULL OR length(note) <= 500);
ALTER TABLE activities ADD COLUMN edits INTEGER NOT NULL DEFAULT 0;

CREATE TABLE activity_calendars (
    activity_id BIGINT NOT NULL REFERENCES activities(id),
    user_id     BIGINT NOT NULL,
    sequence    INTEGER NOT NULL,
    taken_at    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX activity_calendars_user ON activity_calendars(user_id);

CREATE TABLE file_uploads (
    key         TEXT COLLATE "C" PRIMARY KEY,
    file_id     TEXT COLLATE "C" NOT NULL,
    uploaded_at DOUBLE PRECISION NOT NULL
);
