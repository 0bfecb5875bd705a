-- The quick counts (R-DATA-01) read only the orders that can count: registered today, still
-- open, or concluded today. Open orders come through work_orders_state, today's through
-- work_orders_created, and the day's conclusions through this index.
CREATE INDEX work_orders_concluded ON work_orders(concluded_at) WHERE concluded_at IS NOT NULL;
