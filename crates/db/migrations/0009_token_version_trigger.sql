-- Every change to api_tokens moves the version the nodes follow, whoever
-- makes it: a row revoked or deleted by hand (an operator repairing the
-- table) reaches every node within its poll, not at its next start.
CREATE FUNCTION vigie_api_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE api_token_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_tokens_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION vigie_api_tokens_changed();
