-- Uploaded indicator sources (the former indicators/NAME.src and
-- NAME.json), as the PostgreSQL backend keeps them: one set for every
-- tenant, as the rules are. `src` is the upload as received (read again
-- at each start: what judges events is always what was uploaded),
-- `info` what was made of it (JSON of vigie_serve's SourceInfo).
CREATE TABLE indicator_sources (
    name     TEXT    PRIMARY KEY,
    info     TEXT    NOT NULL,
    src      BLOB    NOT NULL,
    version  INTEGER NOT NULL
);
-- One counter moved by every upload and removal, as PostgreSQL's.
CREATE TABLE indicator_version (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    version  INTEGER NOT NULL
);
INSERT INTO indicator_version (one, version) VALUES (1, 0);
