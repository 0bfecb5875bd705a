-- SLA escalation and dispatch (issue 5, R-WO-04/05/06).
--
-- `sla_check_at`: when the escalation watcher must next look at the order. A transition
-- sets it to the transition's time (look again now); the watcher fires what is due and
-- sets it to the next threshold, or NULL while no clock runs (not accepted, suspended,
-- closed, every deadline met). Only orders with a due check are ever read.
-- `replied_at`: the first reply (答复) to the customer, the `reply` deadline's end.
ALTER TABLE work_orders ADD COLUMN replied_at TEXT;
ALTER TABLE work_orders ADD COLUMN sla_check_at TEXT;
CREATE INDEX work_orders_sla_check ON work_orders(sla_check_at) WHERE sla_check_at IS NOT NULL;

-- When the threshold was reached (the mark's `fired_at` is when the watcher saw it).
ALTER TABLE order_escalations ADD COLUMN due_at TEXT NOT NULL DEFAULT '';
CREATE INDEX order_escalations_fired ON order_escalations(fired_at);

-- Skills of a crew member: order type codes they handle, comma-separated (empty: all).
ALTER TABLE users ADD COLUMN skills TEXT NOT NULL DEFAULT '';

-- The last known position of each crew member (pings from the field app).
CREATE TABLE crew_positions (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    lat_e6 BIGINT NOT NULL,
    lng_e6 BIGINT NOT NULL,
    accuracy_m BIGINT,
    at TEXT NOT NULL
);
