-- Who is carrying a containment proposal out in the directory now, until
-- when: two api nodes executing the same approved action at once, one
-- claims it and executes, the other is told. A claim of a node that died
-- expires at `until`.
CREATE TABLE proposal_claims (
    tenant  text NOT NULL,
    id      text NOT NULL,
    holder  text NOT NULL,
    since   bigint NOT NULL,
    until   bigint NOT NULL,
    PRIMARY KEY (tenant, id)
);
