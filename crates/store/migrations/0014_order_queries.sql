-- Conditional queries over work orders (R-DATA-02/03): saved queries, per user and shared
-- with the owner's unit, and the indexes the query builder's common shapes need.
--
-- `definition` is the query document (domain::query) as JSON, checked before it is stored
-- and again whenever it runs (the fields it names may have changed meaning since).
CREATE TABLE saved_queries (
    id {{pk}},
    owner_id BIGINT NOT NULL REFERENCES users(id),
    unit_id BIGINT NOT NULL REFERENCES units(id),
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    shared BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX saved_queries_owner_name ON saved_queries(owner_id, name);
CREATE INDEX saved_queries_unit_shared ON saved_queries(unit_id, shared);
