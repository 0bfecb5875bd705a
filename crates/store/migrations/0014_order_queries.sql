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

-- The query builder sorts newest first. Every query of a user whose data scope is a unit
-- (or a tree of units) carries `unit_id IN (…)`: with (unit, created) the first page is read
-- in order from the index instead of sorting all of the units' orders (on 200,000 orders:
-- a unit's first page 50 ms → 0.1 ms; with rare free text 600 ms → 2 ms, SQLite).
CREATE INDEX work_orders_unit_created ON work_orders(unit_id, created_at);
-- Resolution-date ranges (处理完成时间): without it the book is scanned in creation order
-- (a month of resolutions on 200,000 orders: 510 ms → 70 ms). The predicate is implied by
-- any comparison on resolved_at, so both engines use the partial index.
CREATE INDEX work_orders_resolved ON work_orders(resolved_at) WHERE resolved_at IS NOT NULL;
