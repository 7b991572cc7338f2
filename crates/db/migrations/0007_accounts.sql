-- The console's accounts, shared by every api node: a login, a lock, a
-- removal are the deployment's, not one node's. Columns rather than a
-- document: a login's outcome is one atomic UPDATE (failures counted,
-- a TOTP step taken once) whichever node took it.
CREATE TABLE console_users (
    name          text    PRIMARY KEY,
    -- The commune the account is bound to; NULL: the deployment's own.
    tenant        text,
    role          text    NOT NULL,
    -- PHC string of the Argon2id hash.
    password      text    NOT NULL,
    totp          text,
    totp_step     bigint,
    created       text    NOT NULL,
    failures      integer NOT NULL DEFAULT 0,
    locked_until  bigint,
    seq           bigserial
);

-- Sessions: only the SHA-256 of the cookie's id is kept. A session goes
-- with its account (removed: its sessions end on every node).
CREATE TABLE console_sessions (
    hash      text   PRIMARY KEY,
    username  text   NOT NULL REFERENCES console_users (name) ON DELETE CASCADE,
    tenant    text,
    role      text   NOT NULL,
    csrf      text   NOT NULL,
    created   bigint NOT NULL,
    last      bigint NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (username);
CREATE INDEX console_sessions_last ON console_sessions (last);

-- API tokens: only their SHA-256; a revoked one stays, with when and by
-- whom. The commune a token belongs to is its tenant.
CREATE TABLE api_tokens (
    sha256        text PRIMARY KEY,
    name          text NOT NULL,
    scope         text NOT NULL,
    tenant        text NOT NULL,
    created       text NOT NULL,
    revoked_time  text,
    revoked_by    text,
    seq           bigserial
);
-- One counter moved by every creation and revocation: each node polls it
-- (one row) and reads the tokens again when it moved.
CREATE TABLE api_token_version (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    version  bigint  NOT NULL
);
INSERT INTO api_token_version (one, version) VALUES (true, 0);
