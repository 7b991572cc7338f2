-- The console's triage, as the embedded triage.jsonl keeps it: every
-- change appended, never updated (the history is the record of the
-- triage); the current state is folded from it in order (seq).
-- Documents are the JSON of vigie_store::triage's types, as text.
CREATE TABLE triage_entries (
    seq     bigserial PRIMARY KEY,
    tenant  text NOT NULL,
    doc     text NOT NULL
);
CREATE INDEX triage_entries_tenant ON triage_entries (tenant, seq);

-- False-positive filters: every version kept, numbered per filter (the
-- primary key refuses two edits given the same number on two nodes).
CREATE TABLE triage_filter_versions (
    filter   text    NOT NULL,
    version  integer NOT NULL,
    tenant   text    NOT NULL,
    seq      bigserial,
    doc      text    NOT NULL,
    PRIMARY KEY (filter, version)
);
-- A filter removed: its versions stay, it is no longer applied.
CREATE TABLE triage_filter_removals (
    filter  text PRIMARY KEY,
    doc     text NOT NULL
);

-- Saved searches (an id saved again is replaced and moves last); a
-- removal is kept with who and when.
CREATE TABLE triage_searches (
    tenant  text NOT NULL,
    id      text NOT NULL,
    seq     bigint NOT NULL,
    doc     text NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE SEQUENCE triage_searches_seq;
CREATE TABLE triage_search_removals (
    seq     bigserial PRIMARY KEY,
    tenant  text NOT NULL,
    doc     text NOT NULL
);

-- Rules turned off or on again: the deployment's (one engine for every
-- tenant), the last switch of a rule decides.
CREATE TABLE triage_rule_switches (
    seq  bigserial PRIMARY KEY,
    doc  text NOT NULL
);
