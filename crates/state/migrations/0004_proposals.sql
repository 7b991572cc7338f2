-- Containment proposals: the current record of each (its proposal, state
-- and whole trail), changed inside a write transaction so that two
-- people approving or executing at once cannot both succeed on a stale
-- record.
CREATE TABLE proposals (
    tenant  TEXT NOT NULL,
    id      TEXT NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
-- Every record as it was after each step, as the former proposals.jsonl
-- kept them: what was approved or executed as it was then (target,
-- evidence, impact).
CREATE TABLE proposal_steps (
    seq     INTEGER PRIMARY KEY,
    tenant  TEXT NOT NULL,
    id      TEXT NOT NULL,
    record  TEXT NOT NULL,
    stored  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX proposal_steps_tenant ON proposal_steps (tenant, id, seq);
