-- The console's audit log: each line the JSON text `vigie audit verify`
-- checks, its `prev` the SHA-256 of the line before (in seq order).
-- Appends are write transactions (BEGIN IMMEDIATE): the server and a
-- `vigie user …` command auditing at once never chain to the same line.
CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY,
    line    TEXT NOT NULL,
    stored  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
