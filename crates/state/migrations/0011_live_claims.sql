-- Claims on the alerting's messages, and each key's deliveries (see
-- vigie_store::live::AlertJournal): the same table as PostgreSQL's, so
-- that the embedded store and the shared one keep one contract. A node's
-- own state.db has one node, which wins every claim; the count and the
-- last delivery are what a start reads back.
CREATE TABLE alert_claims (
    tenant     TEXT    NOT NULL,
    sink       TEXT    NOT NULL,
    live_id    TEXT    NOT NULL,
    -- Messages delivered for the key, and the last one's record.
    delivered  INTEGER NOT NULL DEFAULT 0,
    doc        TEXT,
    -- When it was delivered, in seconds since the epoch.
    at         INTEGER,
    -- The node sending the next message, until when (seconds).
    node       TEXT,
    until      INTEGER,
    PRIMARY KEY (tenant, sink, live_id)
) WITHOUT ROWID;
-- What the journal already holds: its deliveries counted, the last kept
-- (when: unknown, 0).
INSERT INTO alert_claims (tenant, sink, live_id, delivered, doc, at)
SELECT r.tenant, r.sink, r.live_id, count(*),
       (SELECT l.doc FROM alert_records l
         WHERE l.tenant = r.tenant AND l.sink = r.sink AND l.live_id = r.live_id
           AND l.delivered = 1
         ORDER BY l.seq DESC LIMIT 1),
       0
  FROM alert_records r WHERE r.delivered = 1
 GROUP BY r.tenant, r.sink, r.live_id;
-- A silence claimed and not said yet has a node and an end; a silence
-- said has neither.
ALTER TABLE alert_silences ADD COLUMN node TEXT;
ALTER TABLE alert_silences ADD COLUMN until INTEGER;
