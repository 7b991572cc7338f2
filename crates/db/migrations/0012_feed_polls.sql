-- Indicator feeds polled by one detect node at a time: a lease (holder,
-- until), when the next poll is due, and what the last poll learnt (the
-- validators of the version kept, a TAXII collection's resume point), so
-- that another node, or the same one restarted, goes on from there
-- instead of fetching everything again.
CREATE TABLE feed_polls (
    name           text PRIMARY KEY,
    holder         text,
    until          bigint NOT NULL DEFAULT 0,
    next_at        bigint NOT NULL DEFAULT 0,
    polled_at      bigint,
    etag           text,
    last_modified  text,
    taxii          text
);
