-- The detections of every tenant, each deterministic id once per tenant.
-- The document is kept as the JSON text served (not jsonb: PostgreSQL's
-- jsonb refuses the \u0000 that hostile event text may carry, and
-- evidence is kept as it is).
CREATE TABLE detections (
    tenant  text   NOT NULL,
    id      text   NOT NULL,
    seq     bigserial,
    doc     text   NOT NULL,
    stored  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);
CREATE INDEX detections_latest ON detections (tenant, seq);
