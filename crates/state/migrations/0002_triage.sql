-- The console's triage, as the former triage.jsonl kept it: every change
-- appended, never updated (the history is the record of the triage);
-- the current state is folded from it in order (seq). Documents are the
-- JSON of vigie_store::triage's types, as text.
CREATE TABLE triage_entries (
    seq     INTEGER PRIMARY KEY,
    tenant  TEXT NOT NULL,
    doc     TEXT NOT NULL
);
CREATE INDEX triage_entries_tenant ON triage_entries (tenant, seq);

-- False-positive filters: every version kept, numbered per filter.
CREATE TABLE triage_filter_versions (
    seq      INTEGER PRIMARY KEY,
    filter   TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    tenant   TEXT    NOT NULL,
    doc      TEXT    NOT NULL,
    UNIQUE (filter, version)
);
-- A filter removed: its versions stay, it is no longer applied.
CREATE TABLE triage_filter_removals (
    filter  TEXT PRIMARY KEY,
    doc     TEXT NOT NULL
);

-- Saved searches (an id saved again is replaced and moves last); a
-- removal is kept with who and when.
CREATE TABLE triage_searches (
    tenant  TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    doc     TEXT    NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE triage_search_removals (
    seq     INTEGER PRIMARY KEY,
    tenant  TEXT NOT NULL,
    doc     TEXT NOT NULL
);

-- Rules turned off or on again, for every tenant (tenant NULL) or for
-- one commune's events; the last switch of a rule decides.
CREATE TABLE triage_rule_switches (
    seq     INTEGER PRIMARY KEY,
    tenant  TEXT,
    doc     TEXT NOT NULL
);
