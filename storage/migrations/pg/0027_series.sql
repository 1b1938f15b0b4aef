-- PostgreSQL variant of 0027_series.sql: recurring activities, one ordinary activity per
-- occurrence linked to its series row.
CREATE TABLE activity_series (
    id         BIGSERIAL PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES orgs(id),
    rule       TEXT COLLATE "C" NOT NULL CHECK (rule IN ('weekdays', 'dates') OR rule LIKE 'weekly:_'),
    total      INTEGER NOT NULL CHECK (total BETWEEN 1 AND 60),
    created_by BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

ALTER TABLE activities ADD COLUMN series_id BIGINT REFERENCES activity_series(id);
ALTER TABLE activities ADD COLUMN series_no INTEGER;
CREATE INDEX activities_series ON activities(series_id, starts_at);
