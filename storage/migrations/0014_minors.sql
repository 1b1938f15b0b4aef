-- Minors (PIPL art. 31): a person under 14 gives nothing personal until a guardian consents.
-- A guardian request is a single-use link the minor forwards; only the token's SHA-256 is kept,
-- with the minor's Telegram id and the org they are joining (never a name).
CREATE TABLE guardian_requests (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    user_id    INTEGER NOT NULL,                -- the minor
    org_id     INTEGER NOT NULL REFERENCES orgs(id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at    REAL
);
CREATE INDEX guardian_requests_user ON guardian_requests(user_id);

-- A recorded consent: by the guardian from their own account ('telegram', guardian_id set), or
-- on paper, entered by a secretary or staff member ('paper', recorded_by set). /forgetme deletes
-- a minor's rows and re-points a guardian's or recorder's id to their tombstone.
CREATE TABLE guardian_consents (
    id          INTEGER PRIMARY KEY,
    minor_id    INTEGER NOT NULL,
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    method      TEXT NOT NULL CHECK (method IN ('telegram', 'paper')),
    guardian_id INTEGER,
    recorded_by INTEGER,
    request_id  INTEGER REFERENCES guardian_requests(id),
    at          REAL NOT NULL,
    CHECK ((method = 'telegram' AND guardian_id IS NOT NULL)
           OR (method = 'paper' AND recorded_by IS NOT NULL))
);
CREATE INDEX guardian_consents_minor ON guardian_consents(minor_id);
