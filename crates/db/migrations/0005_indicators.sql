-- Uploaded indicator sources: one set for the whole deployment, as the
-- rules are (an analyst's or an administrator's act, audited), so no
-- tenant. The bytes are kept as received and read again by every node,
-- as the embedded indicators/NAME.src files are.
CREATE TABLE indicator_sources (
    name     text   PRIMARY KEY,
    info     text   NOT NULL,
    src      bytea  NOT NULL,
    version  bigint NOT NULL
);
-- One counter moved by every upload and removal: each node polls it and
-- reads the sources again when it moved (a cheap poll, one row).
CREATE TABLE indicator_version (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    version  bigint  NOT NULL
);
INSERT INTO indicator_version (one, version) VALUES (true, 0);
