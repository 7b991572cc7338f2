-- The former JSON Lines files imported, by name and SHA-256, in the
-- import's own transaction: a file still under its old name after a
-- start stopped between the commit and its rename is recognised and
-- renamed, never imported twice.
CREATE TABLE imported_files (
    name     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    lines    INTEGER NOT NULL,
    damaged  INTEGER NOT NULL,
    at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (name, sha256)
);
