-- Rule switches per commune: a switch names its tenant (NULL: every
-- tenant, as every switch kept before this one did). The document holds
-- it too; the column is for those who query the database.
ALTER TABLE triage_rule_switches ADD COLUMN tenant text;
CREATE INDEX triage_rule_switches_tenant ON triage_rule_switches (tenant, seq);
