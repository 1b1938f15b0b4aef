-- Pre-registrations loaded by `towerbot members import` from an existing roster (e.g. an export
-- of 智慧团建). Personal data: a row goes when its person registers with the same phone (the
-- row's name, org and role then become theirs), with /forgetme (by phone), or with
-- `towerbot members purge`.

CREATE TABLE roster (
    phone       TEXT PRIMARY KEY,           -- '+digits', as bot/domain/validate.phone gives it
    real_name   TEXT NOT NULL,
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    role        TEXT CHECK (role IN ('secretary', 'staff')),   -- NULL: a member
    imported_at REAL NOT NULL
);
CREATE INDEX roster_org ON roster(org_id);
