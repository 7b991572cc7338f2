-- The live half shared by the api nodes (see vigie_store::live): one name
-- per incident for the deployment, one message per incident group.
--
-- Each tenant's incidents with their live id and the hosts and accounts
-- they had, in the order first seen (`pos`): named under the tenant's
-- advisory lock, read again by every node before it names.
CREATE TABLE live_incidents (
    tenant    text   NOT NULL,
    pos       bigint NOT NULL,
    id        text   NOT NULL,
    -- JSON array of "host:NAME" / "account:NAME", sorted.
    entities  text   NOT NULL,
    PRIMARY KEY (tenant, pos),
    UNIQUE (tenant, id)
);
-- The alerting's journal: every message delivered, and the first failure
-- of a streak, appended by whichever node sent it.
CREATE TABLE alert_records (
    seq        bigserial PRIMARY KEY,
    tenant     text    NOT NULL,
    sink       text    NOT NULL,
    live_id    text    NOT NULL,
    delivered  boolean NOT NULL,
    doc        text    NOT NULL
);
CREATE INDEX alert_records_key ON alert_records (tenant, sink, live_id, seq);
-- Per (tenant, destination, incident): messages delivered, the last one,
-- when (the database's clock, seconds), and the claim on the next one
-- (node, until): one node wins it and sends; a claim of a node that died
-- is taken over once `until` is past.
CREATE TABLE alert_claims (
    tenant     text   NOT NULL,
    sink       text   NOT NULL,
    live_id    text   NOT NULL,
    delivered  bigint NOT NULL DEFAULT 0,
    doc        text,
    at         bigint,
    node       text,
    until      bigint,
    PRIMARY KEY (tenant, sink, live_id)
);
-- Channels a destination was told are silent, until they send again; a
-- row with `until` is a claim (a node about to say it), not a silence
-- said.
CREATE TABLE alert_silences (
    tenant   text NOT NULL,
    sink     text NOT NULL,
    host     text NOT NULL,
    channel  text NOT NULL,
    node     text,
    until    bigint,
    PRIMARY KEY (tenant, sink, host, channel)
);
-- What was moved from a node's state.db (its live ids, journal and
-- silences, at its first start with --db): one row per content moved,
-- written in the import's transaction, so that a start interrupted after
-- it (before state.db was emptied) does not bring the same rows in twice.
CREATE TABLE live_imports (
    digest   text   PRIMARY KEY,
    source   text   NOT NULL,
    at       bigint NOT NULL
);
