-- Indicator facts (issue 6, R-DATA-04/05, ARCHITECTURE D24): one row per settled order
-- (concluded, rejected or cancelled, nothing left to happen) with its contribution to each
-- indicator, so that a report sums rows instead of replaying every order's history. Rows
-- are written by the facts refresher; an order whose row is missing or out of date is
-- replayed from its events, so the figures never depend on the refresher being current.
--
-- `work_orders.facts_version` is the order version the row was computed from; every
-- transition bumps `version`, which puts the order into `work_orders_facts_due` (open
-- orders and orders changed since their row was written). A transition on a settled order
-- deletes its row in the same transaction.

ALTER TABLE work_orders ADD COLUMN facts_version BIGINT NOT NULL DEFAULT -1;

CREATE INDEX work_orders_facts_due ON work_orders(created_at) WHERE facts_version <> version;
CREATE INDEX work_orders_facts_due_state ON work_orders(state, id) WHERE facts_version <> version;

CREATE TABLE order_facts (
    registered_at TEXT NOT NULL,
    order_id BIGINT NOT NULL,
    settled_at TEXT NOT NULL,
    unit_id BIGINT NOT NULL,
    type_code TEXT NOT NULL,
    category TEXT NOT NULL,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    ack_on_time BIGINT NOT NULL,
    processed_on_time BIGINT NOT NULL,
    not_replied BIGINT NOT NULL,
    replied BIGINT NOT NULL,
    visit_required BIGINT NOT NULL,
    visit_attempts BIGINT NOT NULL,
    visit_satisfied BIGINT NOT NULL,
    closing_on_time BIGINT NOT NULL,
    acknowledged BIGINT NOT NULL,
    resolved_items BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    cancelled BIGINT NOT NULL,
    visited BIGINT NOT NULL,
    PRIMARY KEY (registered_at, order_id)
){{without_rowid}};

CREATE UNIQUE INDEX order_facts_order ON order_facts(order_id);
CREATE INDEX order_facts_settled ON order_facts(settled_at);
