-- PostgreSQL variant of 0022_requests.sql: requests upward (请示报告) addressed to an org,
-- the first decision, and the replies.
CREATE TABLE requests (
    id           BIGSERIAL PRIMARY KEY,
    from_org_id  BIGINT NOT NULL REFERENCES orgs(id),
    to_org_id    BIGINT NOT NULL REFERENCES orgs(id),
    requester_id BIGINT,
    text         TEXT COLLATE "C" NOT NULL DEFAULT '' CHECK (length(text) <= 4096),
    file_id      TEXT COLLATE "C",
    file_name    TEXT COLLATE "C",
    created_at   DOUBLE PRECISION NOT NULL,
    status       TEXT COLLATE "C" NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'rejected')),
    decided_by   BIGINT,
    decided_at   DOUBLE PRECISION,
    erased       INTEGER NOT NULL DEFAULT 0 CHECK (erased IN (0, 1)),
    CHECK ((status = 'open') = (decided_at IS NULL))
);
CREATE INDEX requests_to ON requests(to_org_id, status);
CREATE INDEX requests_from ON requests(from_org_id);
CREATE INDEX requests_requester ON requests(requester_id);

CREATE TABLE request_replies (
    id         BIGSERIAL PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests(id),
    user_id    BIGINT,
    text       TEXT COLLATE "C" NOT NULL CHECK (length(text) <= 4096),
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX request_replies_request ON request_replies(request_id, id);
CREATE INDEX request_replies_user ON request_replies(user_id);
