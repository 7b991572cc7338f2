-- The communes a CSIRT's account is assigned (`vigie user add --tenant A
-- --tenant B`), comma-separated (a tenant's name has no comma); NULL: no
-- such set (the account of one commune, `tenant`, or of every one).
ALTER TABLE console_users ADD COLUMN assigned text;
