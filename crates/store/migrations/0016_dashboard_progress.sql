-- The supervisor dashboard (R-DATA-07) and the public progress look-up (R-DATA-06).
--
-- rate_limits: fixed-window counters of the rate limiter, one row per bucket (e.g.
-- `progress:ip:203.0.113.9`, `progress:fail:WO20261121-000001`). Kept in the database so
-- that every replica counts against the same numbers; `window_start` is the window's
-- start in Unix seconds. Rows whose window ended long ago are purged by housekeeping.
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX rate_limits_updated ON rate_limits(updated_at);

-- The dashboard's top categories and repair map read the orders of one period by type:
-- without it the period's whole range of work_orders_created is read and filtered.
CREATE INDEX work_orders_type_created ON work_orders(type_code, created_at);
