-- The crisis cell's journal (service statuses set by hand, notices, the
-- crisis log's entries), append-only as the embedded crisis.jsonl: a
-- record is never updated nor deleted, a later one supersedes it.
CREATE TABLE crisis_records (
    seq     bigserial PRIMARY KEY,
    tenant  text NOT NULL,
    doc     text NOT NULL,
    stored  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crisis_records_tenant ON crisis_records (tenant, seq);
