-- The quick counts (R-DATA-01) from indexes alone: on 2,500,000 orders with 66,000 open the
-- grouped query read every open order's row (1.9 s); these covering indexes answer the
-- open stages and the day's conclusions without touching the table (10 ms for the open part).
CREATE INDEX work_orders_open_counts ON work_orders(state, suspended_from, overdue, unit_id)
    WHERE state IN ('registered', 'pending_approval', 'accepted', 'dispatched', 'acknowledged',
        'in_progress', 'resolved', 'verified', 'suspended');

CREATE INDEX work_orders_concluded_counts ON work_orders(concluded_at, state, unit_id, id)
    WHERE concluded_at IS NOT NULL;

DROP INDEX work_orders_concluded;

-- "Concluded today by a return visit": the visit events alone (one per visited order), so
-- the existence check reads no event rows (0.35 s → 0.06 s for 30,000 conclusions a day).
CREATE INDEX order_events_visits ON order_events(order_id) WHERE action = 'visit';
