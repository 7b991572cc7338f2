-- The live incidents' ids (the former incidents.json): per tenant, each
-- incident seen with its live id and the hosts and accounts it had.
-- `pos` is the order of first sight, which the naming needs: on a tie
-- the oldest keeps its id, and a new id is numbered after the others.
CREATE TABLE live_incidents (
    tenant    TEXT    NOT NULL,
    pos       INTEGER NOT NULL,
    id        TEXT    NOT NULL,
    -- JSON array of "host:NAME" / "account:NAME", sorted.
    entities  TEXT    NOT NULL,
    PRIMARY KEY (tenant, pos),
    UNIQUE (tenant, id)
);
-- The alerting journal (the former alerts.jsonl): every message
-- delivered, and the first failure of a streak, appended. The last
-- delivered one per (sink, tenant, live id) is what a restart does not
-- send again. Documents are the JSON of vigie_serve::alerts::Record.
CREATE TABLE alert_records (
    seq        INTEGER PRIMARY KEY,
    sink       TEXT    NOT NULL,
    tenant     TEXT    NOT NULL,
    live_id    TEXT    NOT NULL,
    delivered  INTEGER NOT NULL,
    doc        TEXT    NOT NULL
);
CREATE INDEX alert_records_delivered
    ON alert_records (sink, tenant, live_id, seq) WHERE delivered = 1;
-- Channels a destination was told are silent, until they send again:
-- a restart does not say the same silence twice.
CREATE TABLE alert_silences (
    sink     TEXT NOT NULL,
    tenant   TEXT NOT NULL,
    host     TEXT NOT NULL,
    channel  TEXT NOT NULL,
    said     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (sink, tenant, host, channel)
) WITHOUT ROWID;
