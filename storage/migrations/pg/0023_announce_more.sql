-- PostgreSQL variant of 0023_announce_more.sql: announcements sent later, corrected, recalled
-- and pinned (issue 14).
ALTER TABLE announcements ADD COLUMN status TEXT COLLATE "C" NOT NULL DEFAULT 'sent'
    CHECK (status IN ('scheduled', 'sent', 'cancelled', 'missed', 'recalled'));
ALTER TABLE announcements ADD COLUMN send_at DOUBLE PRECISION;
ALTER TABLE announcements ADD COLUMN pin INTEGER NOT NULL DEFAULT 0 CHECK (pin IN (0, 1));
ALTER TABLE announcements ADD COLUMN edited_at DOUBLE PRECISION;
ALTER TABLE announcements ADD COLUMN edits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE announcements ADD COLUMN recalled_at DOUBLE PRECISION;
CREATE INDEX announcements_status ON announcements(status, org_id);
