-- The crisis cell's journal (service statuses set by hand, notices, the
-- crisis log's entries), append-only: a record is never updated nor
-- deleted, a later one supersedes it.
CREATE TABLE crisis_records (
    seq     INTEGER PRIMARY KEY,
    tenant  TEXT NOT NULL,
    doc     TEXT NOT NULL,
    stored  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX crisis_records_tenant ON crisis_records (tenant, seq);
