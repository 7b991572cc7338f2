-- The console's accounts. Columns rather than a document: a login's
-- outcome is one atomic UPDATE (failures counted, a TOTP step taken
-- once), whichever process (the server, `vigie user …`) took it.
CREATE TABLE console_users (
    seq           INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    -- The commune the account is bound to; NULL: the deployment's own.
    tenant        TEXT,
    role          TEXT    NOT NULL,
    -- PHC string of the Argon2id hash.
    password      TEXT    NOT NULL,
    totp          TEXT,
    totp_step     INTEGER,
    created       TEXT    NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
);

-- Sessions: only the SHA-256 of the cookie's id is kept. A session goes
-- with its account (removed: its sessions end).
CREATE TABLE console_sessions (
    hash      TEXT    PRIMARY KEY,
    username  TEXT    NOT NULL REFERENCES console_users (name) ON DELETE CASCADE,
    tenant    TEXT,
    role      TEXT    NOT NULL,
    csrf      TEXT    NOT NULL,
    created   INTEGER NOT NULL,
    last      INTEGER NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (username);
CREATE INDEX console_sessions_last ON console_sessions (last);
