-- Who exported personal data or changed a role, and when (`/auditlog`). `detail` names the
-- kind of export or the role given, never a person's name; `actor_id` is NULL for the CLI.
-- /forgetme re-points actor_id and target_id to the person's tombstone.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        REAL NOT NULL,
    actor_id  INTEGER,
    action    TEXT NOT NULL CHECK (action IN ('export', 'mydata', 'role')),
    detail    TEXT NOT NULL DEFAULT '' CHECK (length(detail) <= 200),
    org_id    INTEGER REFERENCES orgs(id),
    target_id INTEGER
);
CREATE INDEX audit_log_org ON audit_log(org_id, id);
