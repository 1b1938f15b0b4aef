-- Activities edited by their organiser, with a sign-up deadline and a calendar file (issue 14).
-- signup_deadline: when sign-up closes (NULL: at the start). note: the organiser's
-- description (说明), shown on the card. edits: how many times the organiser edited it, the
-- SEQUENCE of its .ics file (RFC 5545), which keeps one UID per activity.
ALTER TABLE activities ADD COLUMN signup_deadline REAL;
ALTER TABLE activities ADD COLUMN note TEXT CHECK (note IS NULL OR length(note) <= 500);
ALTER TABLE activities ADD COLUMN edits INTEGER NOT NULL DEFAULT 0;

-- who took the activity's calendar file, and which SEQUENCE they have: an edit sends the
-- new file to each of them. /forgetme deletes the person's rows.
CREATE TABLE activity_calendars (
    activity_id INTEGER NOT NULL REFERENCES activities(id),
    user_id     INTEGER NOT NULL,
    sequence    INTEGER NOT NULL,
    taken_at    REAL NOT NULL,
    PRIMARY KEY (activity_id, user_id)
);
CREATE INDEX activity_calendars_user ON activity_calendars(user_id);

-- a file the bot uploaded once, by a key its feature names (an activity's .ics at one
-- SEQUENCE: 'actics:<id>:<sequence>'): later copies go by Telegram's file_id
CREATE TABLE file_uploads (
    key         TEXT PRIMARY KEY,
    file_id     TEXT NOT NULL,
    uploaded_at REAL NOT NULL
);
