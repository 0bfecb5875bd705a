-- Work orders (issue 5, R-WO-01..13): order types with their workflow as data (JSON checked
-- by domain::workflow before it is stored), orders with an optimistic version, every
-- transition as an event row, the SLA clock's pauses, and escalation marks (unique per
-- order, deadline and stage, so each fires exactly once, across restarts).

CREATE TABLE order_types (
    id {{pk}},
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    workflow TEXT NOT NULL,
    targets TEXT NOT NULL,
    calendar TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    sort_order BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);

CREATE TABLE work_orders (
    id {{pk}},
    order_no TEXT NOT NULL UNIQUE,
    type_code TEXT NOT NULL REFERENCES order_types(code),
    state TEXT NOT NULL,
    suspended_from TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    origin TEXT NOT NULL,
    origin_ref TEXT NOT NULL DEFAULT '',
    contact_id BIGINT REFERENCES contacts(id),
    customer_id BIGINT REFERENCES customers(id),
    account_id BIGINT REFERENCES accounts(id),
    category TEXT NOT NULL DEFAULT '',
    impact TEXT NOT NULL,
    urgency TEXT NOT NULL,
    priority BIGINT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    lat_e6 BIGINT,
    lng_e6 BIGINT,
    caller TEXT NOT NULL DEFAULT '',
    unit_id BIGINT NOT NULL REFERENCES units(id),
    assignee_id BIGINT REFERENCES users(id),
    created_by BIGINT REFERENCES users(id),
    master_id BIGINT REFERENCES work_orders(id),
    fields TEXT NOT NULL DEFAULT '{}',
    accepted_at TEXT,
    dispatched_at TEXT,
    acknowledged_at TEXT,
    arrived_at TEXT,
    resolved_at TEXT,
    concluded_at TEXT,
    overdue BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX work_orders_unit_state ON work_orders(unit_id, state, created_at);
CREATE INDEX work_orders_assignee ON work_orders(assignee_id, state);
CREATE INDEX work_orders_state ON work_orders(state, created_at);
CREATE INDEX work_orders_created ON work_orders(created_at);
CREATE INDEX work_orders_customer ON work_orders(customer_id, created_at);
CREATE INDEX work_orders_contact ON work_orders(contact_id);
CREATE INDEX work_orders_master ON work_orders(master_id);

CREATE TABLE order_events (
    id {{pk}},
    order_id BIGINT NOT NULL REFERENCES work_orders(id),
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id),
    note TEXT NOT NULL DEFAULT '',
    fields TEXT NOT NULL DEFAULT '{}',
    lat_e6 BIGINT,
    lng_e6 BIGINT,
    at TEXT NOT NULL
);
CREATE INDEX order_events_order ON order_events(order_id, id);

CREATE TABLE order_pauses (
    id {{pk}},
    order_id BIGINT NOT NULL REFERENCES work_orders(id),
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX order_pauses_order ON order_pauses(order_id, started_at);

CREATE TABLE order_escalations (
    id {{pk}},
    order_id BIGINT NOT NULL REFERENCES work_orders(id),
    deadline TEXT NOT NULL,
    stage TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    UNIQUE (order_id, deadline, stage)
);
