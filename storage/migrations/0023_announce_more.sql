-- Announcements sent later, corrected, recalled and pinned (issue 14).
-- status: 'sent' once its copies are queued (every announcement before this migration);
-- 'scheduled' until `send_at` (a fire-once reminder of kind "announce_send" queues it then);
-- 'cancelled' before it went; 'missed' when the bot was down for more than 12 h past `send_at`;
-- 'recalled' once its copies were deleted (or, too old to delete, edited to say so).
ALTER TABLE announcements ADD COLUMN status TEXT NOT NULL DEFAULT 'sent'
    CHECK (status IN ('scheduled', 'sent', 'cancelled', 'missed', 'recalled'));
ALTER TABLE announcements ADD COLUMN send_at REAL;
ALTER TABLE announcements ADD COLUMN pin INTEGER NOT NULL DEFAULT 0 CHECK (pin IN (0, 1));
ALTER TABLE announcements ADD COLUMN edited_at REAL;       -- the last /announce edit
ALTER TABLE announcements ADD COLUMN edits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE announcements ADD COLUMN recalled_at REAL;
CREATE INDEX announcements_status ON announcements(status, org_id);
