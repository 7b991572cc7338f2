-- API tokens: only their SHA-256; a revoked one stays, with when and by
-- whom. The commune a token belongs to is its tenant.
CREATE TABLE api_tokens (
    seq           INTEGER PRIMARY KEY,
    sha256        TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    created       TEXT NOT NULL,
    revoked_time  TEXT,
    revoked_by    TEXT
);
-- One counter moved by every change to api_tokens, whoever makes it (the
-- server, `vigie token …`, an operator with sqlite3): the server polls
-- it (one row) and reads the tokens again when it moved.
CREATE TABLE api_token_version (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    version  INTEGER NOT NULL
);
INSERT INTO api_token_version (one, version) VALUES (1, 0);
CREATE TRIGGER api_tokens_inserted AFTER INSERT ON api_tokens
BEGIN UPDATE api_token_version SET version = version + 1; END;
CREATE TRIGGER api_tokens_updated AFTER UPDATE ON api_tokens
BEGIN UPDATE api_token_version SET version = version + 1; END;
CREATE TRIGGER api_tokens_deleted AFTER DELETE ON api_tokens
BEGIN UPDATE api_token_version SET version = version + 1; END;
