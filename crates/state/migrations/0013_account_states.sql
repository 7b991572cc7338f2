-- The accounts page (issue 16): an account disabled by an administrator
-- (no login, its sessions end; kept, it can be enabled again), and when
-- each last signed in (Unix seconds).
ALTER TABLE console_users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE console_users ADD COLUMN last_login INTEGER;
