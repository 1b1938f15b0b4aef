-- Every (username, account) pair the bot has seen, so that `/role @username` can tell a
-- username that moved from one account to another (it then asks for a reply instead).
-- Usernames are kept lower-case; a person's rows go with /forgetme.

CREATE TABLE usernames (
    username   TEXT NOT NULL,                -- lower-case, without '@'
    user_id    INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen  REAL NOT NULL,
    PRIMARY KEY (username, user_id)
);
CREATE INDEX usernames_user ON usernames(user_id);

INSERT OR IGNORE INTO usernames(username, user_id, first_seen, last_seen)
    SELECT lower(username), id, updated_at, updated_at FROM users WHERE username IS NOT NULL;
