-- /forgetme forgets: approved hours stay in the totals under a tombstone that cannot be re-linked
-- to the Telegram account. A tombstone is a random negative 63-bit id (never derived from the
-- Telegram id), one per forgotten person, listed here and kept as a nameless `users` row so the
-- foreign keys of hour_entries and activity_signups still hold.
-- vacuum-after: pages freed before secure_delete was on may still hold forgotten names.

CREATE TABLE tombstones (
    id INTEGER PRIMARY KEY CHECK (id < 0)
);

-- Decided entries stay immutable, except for exactly the re-pointing /forgetme does: the
-- author (`user_id`) moved to a tombstone, with the description's own words about them
-- redacted in the same change; or the approver (`decided_by`) moved to a tombstone.
DROP TRIGGER hour_entries_decided_immutable;
CREATE TRIGGER hour_entries_decided_immutable
BEFORE UPDATE ON hour_entries
WHEN OLD.status <> 'pending' AND NOT (
    NEW.id = OLD.id AND NEW.org_id = OLD.org_id AND NEW.served_on = OLD.served_on
    AND NEW.quarters = OLD.quarters AND NEW.status = OLD.status AND NEW.source = OLD.source
    AND NEW.created_at = OLD.created_at AND NEW.decided_at IS OLD.decided_at
    AND NEW.reason IS OLD.reason
    AND (NEW.user_id = OLD.user_id
         OR (OLD.user_id > 0 AND NEW.user_id IN (SELECT id FROM tombstones)))
    AND (NEW.decided_by IS OLD.decided_by
         OR (OLD.decided_by > 0 AND NEW.decided_by IN (SELECT id FROM tombstones)))
    AND (NEW.description = OLD.description OR NEW.user_id <> OLD.user_id)
)
BEGIN
    SELECT RAISE(ABORT, 'decided hour entries are immutable');
END;

-- People forgotten before this change: the people row is gone but the users row stayed, and
-- their entries, sign-ups and submissions still pointed at it (only registered people have any).
CREATE TEMP TABLE forgotten_before (user_id INTEGER PRIMARY KEY, tomb INTEGER NOT NULL UNIQUE);
INSERT INTO forgotten_before(user_id, tomb)
SELECT u.id, -1 - (random() & 9223372036854775807) FROM users u
WHERE u.id > 0 AND u.id NOT IN (SELECT user_id FROM people) AND (
    EXISTS (SELECT 1 FROM hour_entries h WHERE h.user_id = u.id)
    OR EXISTS (SELECT 1 FROM activity_signups s WHERE s.user_id = u.id)
    OR EXISTS (SELECT 1 FROM campaign_submissions c WHERE c.user_id = u.id));

INSERT INTO tombstones(id) SELECT tomb FROM forgotten_before;
INSERT INTO users(id, first_name, started, reachable, updated_at)
SELECT tomb, '', 0, 0, 0 FROM forgotten_before;

DELETE FROM hour_entries
WHERE status <> 'approved' AND user_id IN (SELECT user_id FROM forgotten_before);
DELETE FROM hour_drafts WHERE user_id IN (SELECT user_id FROM forgotten_before);
UPDATE hour_entries SET user_id = (SELECT tomb FROM forgotten_before WHERE user_id = hour_entries.user_id)
WHERE user_id IN (SELECT user_id FROM forgotten_before);
UPDATE hour_entries SET decided_by = (SELECT tomb FROM forgotten_before WHERE user_id = hour_entries.decided_by)
WHERE decided_by IN (SELECT user_id FROM forgotten_before);
UPDATE activity_signups SET user_id = (SELECT tomb FROM forgotten_before WHERE user_id = activity_signups.user_id)
WHERE user_id IN (SELECT user_id FROM forgotten_before);
UPDATE activities SET created_by = (SELECT tomb FROM forgotten_before WHERE user_id = activities.created_by)
WHERE created_by IN (SELECT user_id FROM forgotten_before);
UPDATE campaign_submissions SET user_id = (SELECT tomb FROM forgotten_before WHERE user_id = campaign_submissions.user_id)
WHERE user_id IN (SELECT user_id FROM forgotten_before);
UPDATE campaigns SET created_by = (SELECT tomb FROM forgotten_before WHERE user_id = campaigns.created_by)
WHERE created_by IN (SELECT user_id FROM forgotten_before);
UPDATE campaigns SET cancelled_by = (SELECT tomb FROM forgotten_before WHERE user_id = campaigns.cancelled_by)
WHERE cancelled_by IN (SELECT user_id FROM forgotten_before);
UPDATE announcements SET author_id = (SELECT tomb FROM forgotten_before WHERE user_id = announcements.author_id)
WHERE author_id IN (SELECT user_id FROM forgotten_before);
UPDATE announcement_acks SET first_name = '', user_id = (SELECT tomb FROM forgotten_before WHERE user_id = announcement_acks.user_id)
WHERE user_id IN (SELECT user_id FROM forgotten_before);
UPDATE roles SET granted_by = (SELECT tomb FROM forgotten_before WHERE user_id = roles.granted_by)
WHERE granted_by IN (SELECT user_id FROM forgotten_before);
DELETE FROM roles WHERE user_id IN (SELECT user_id FROM forgotten_before);
DELETE FROM flows WHERE user_id IN (SELECT user_id FROM forgotten_before);
DELETE FROM chat_presence WHERE user_id IN (SELECT user_id FROM forgotten_before);
-- their private messages, and any message naming them or linking to their account
DELETE FROM outbox WHERE chat_id IN (SELECT user_id FROM forgotten_before)
    OR user_id IN (SELECT user_id FROM forgotten_before);
UPDATE outbox SET payload = '{}', dedupe_key = NULL, ref = NULL,
    status = CASE status WHEN 'pending' THEN 'cancelled' ELSE status END
WHERE EXISTS (SELECT 1 FROM forgotten_before f JOIN users u ON u.id = f.user_id
              WHERE instr(outbox.payload, 'id=' || f.user_id) > 0
                 OR instr(coalesce(outbox.dedupe_key, ''), ':' || f.user_id) > 0
                 OR (length(u.first_name) >= 2 AND instr(outbox.payload, u.first_name) > 0)
                 OR (length(u.username) >= 2 AND instr(outbox.payload, u.username) > 0));
DELETE FROM digest_items
WHERE EXISTS (SELECT 1 FROM forgotten_before f JOIN users u ON u.id = f.user_id
              WHERE instr(digest_items.payload, 'id=' || f.user_id) > 0
                 OR instr(coalesce(digest_items.dedupe_key, ''), ':' || f.user_id) > 0
                 OR (length(u.first_name) >= 2 AND instr(digest_items.payload, u.first_name) > 0)
                 OR (length(u.username) >= 2 AND instr(digest_items.payload, u.username) > 0));
DELETE FROM users WHERE id IN (SELECT user_id FROM forgotten_before);
DROP TABLE forgotten_before;

-- Telegram names and usernames are kept only for registered people (storage/users.py).
UPDATE users SET first_name = '', username = NULL
WHERE id NOT IN (SELECT user_id FROM people) AND (first_name <> '' OR username IS NOT NULL);
