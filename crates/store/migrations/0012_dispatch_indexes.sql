-- Dispatch suggestions read every crew member's open workload (store::orders::crew).
-- PostgreSQL uses `state IN (…)` of work_orders_assignee only as a filter, so each crew
-- member cost a scan of all their orders, closed ones included, growing with history;
-- the partial index holds only orders in hand (its state list must match the query's).
-- Active staff get their own partial index so portal customers (also users) are not
-- scanned. Measured with benches/dispatch_query.py (docs/PERFORMANCE.md).
CREATE INDEX work_orders_assignee_open ON work_orders(assignee_id)
    WHERE state IN ('dispatched', 'acknowledged', 'in_progress');
CREATE INDEX users_active_staff ON users(id) WHERE kind = 'staff' AND disabled = 0;
