-- The console's audit log: one hash chain for every api node. Each line
-- is the JSON text `vigie audit verify` checks, its `prev` the SHA-256 of
-- the line before (in seq order); appends are serialized by an advisory
-- lock so that two nodes never chain to the same line.
CREATE TABLE audit_log (
    seq     bigserial PRIMARY KEY,
    line    text NOT NULL,
    stored  timestamptz NOT NULL DEFAULT now()
);
