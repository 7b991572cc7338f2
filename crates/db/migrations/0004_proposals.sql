-- Containment proposals: the current record of each (its proposal, state
-- and whole trail), changed under a row lock so that two people approving
-- or executing at once, on two api nodes, cannot both succeed on a stale
-- record.
CREATE TABLE proposals (
    tenant  text NOT NULL,
    id      text NOT NULL,
    record  text NOT NULL,
    PRIMARY KEY (tenant, id)
);
-- Every record as it was after each step, as the embedded
-- proposals.jsonl keeps them: what was approved or executed as it was
-- then (target, evidence, impact).
CREATE TABLE proposal_steps (
    seq     bigserial PRIMARY KEY,
    tenant  text NOT NULL,
    id      text NOT NULL,
    record  text NOT NULL,
    stored  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proposal_steps_tenant ON proposal_steps (tenant, id, seq);
