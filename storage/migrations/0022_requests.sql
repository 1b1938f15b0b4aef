-- Requests upward (请示报告): a secretary asks the org above for a decision. A request is
-- addressed to an ORG (`to_org_id`, the nearest ancestor with staff when it was made), never to
-- persons: whoever is staff there when the buttons are pressed or a reminder fires acts on it,
-- so a handover moves open requests with the post. The first decision wins (status leaves
-- 'open' once); replies keep the request open and are kept one row each. What is scheduled
-- (the reminder to the staff) lives in `reminders` (kind 'request').
CREATE TABLE requests (
    id           INTEGER PRIMARY KEY,
    from_org_id  INTEGER NOT NULL REFERENCES orgs(id),
    to_org_id    INTEGER NOT NULL REFERENCES orgs(id),
    requester_id INTEGER,                -- NULL once the requester used /forgetme
    text         TEXT NOT NULL DEFAULT '' CHECK (length(text) <= 4096),
    file_id      TEXT,
    file_name    TEXT,
    created_at   REAL NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'rejected')),
    decided_by   INTEGER,
    decided_at   REAL,
    erased       INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE INDEX requests_to ON requests(to_org_id, status);
CREATE INDEX requests_from ON requests(from_org_id);
CREATE INDEX requests_requester ON requests(requester_id);

CREATE TABLE request_replies (
    id         INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    user_id    INTEGER,                  -- NULL once the replier used /forgetme
    text       TEXT NOT NULL CHECK (length(text) <= 4096),
    created_at REAL NOT NULL
);
CREATE INDEX request_replies_request ON request_replies(request_id, id);
CREATE INDEX request_replies_user ON request_replies(user_id);
