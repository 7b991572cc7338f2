-- Failed logins per address and per name that is no account, counted for
-- every api node together (a password spray spread over the nodes is
-- stopped at the same bound as on one). Rows older than the window are
-- deleted as new ones come: the tables hold the window's failures only.
CREATE TABLE login_failures (
    address text NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX login_failures_address ON login_failures (address, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE login_unknown_names (
    name text PRIMARY KEY,
    failures integer NOT NULL,
    locked_until bigint,
    last bigint NOT NULL
);
CREATE INDEX login_unknown_names_last ON login_unknown_names (last);
