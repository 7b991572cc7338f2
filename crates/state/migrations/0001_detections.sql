-- Detections, each (tenant, id) once: a worker killed after storing and
-- before committing its position judges the same events again, and
-- `INSERT … ON CONFLICT DO NOTHING` stores nothing twice. `seq` is the
-- order kept (the latest are read by it). Documents are the JSON served,
-- as text.
CREATE TABLE detections (
    seq     INTEGER PRIMARY KEY,
    tenant  TEXT NOT NULL,
    id      TEXT NOT NULL,
    doc     TEXT NOT NULL,
    UNIQUE (tenant, id)
);
CREATE INDEX detections_tenant ON detections (tenant, seq);
-- The count per tenant, kept in the same transaction as the rows: the
-- statistics are read often, and `count(*)` walks the whole table.
CREATE TABLE detection_counts (
    tenant  TEXT PRIMARY KEY,
    n       INTEGER NOT NULL
) WITHOUT ROWID;
