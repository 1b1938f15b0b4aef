-- Recurring activities (issue 14, item 1): a series is a rule that made several ordinary
-- activities, one per occurrence, each with its own card, roster, reminders, check-in and
-- credit. `rule`: 'weekdays', 'weekly:<0-6>' (Monday = 0) or 'dates'; `total`: how many
-- occurrences it made. An occurrence names its series and its place in it (series_no, from 1).
-- created_by is the organiser's id: /forgetme points it at the tombstone like activities'.
CREATE TABLE activity_series (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs(id),
    rule       TEXT NOT NULL CHECK (rule IN ('weekdays', 'dates') OR rule LIKE 'weekly:_'),
    total      INTEGER NOT NULL CHECK (total BETWEEN 1 AND 60),
    created_by INTEGER NOT NULL,
    created_at REAL NOT NULL
);

ALTER TABLE activities ADD COLUMN series_id INTEGER REFERENCES activity_series(id);
ALTER TABLE activities ADD COLUMN series_no INTEGER;
CREATE INDEX activities_series ON activities(series_id, starts_at);
