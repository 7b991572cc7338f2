-- The accounts page (issue 16): an account disabled by an administrator
-- (no login, its sessions end on every node; kept, it can be enabled
-- again), and when each last signed in (the database's clock, Unix
-- seconds).
ALTER TABLE console_users ADD COLUMN disabled boolean NOT NULL DEFAULT false;
ALTER TABLE console_users ADD COLUMN last_login bigint;
