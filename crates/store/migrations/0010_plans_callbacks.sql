-- Recurring order plans (R-WO-12) and callbacks to the systems orders come from (R-WO-10).
--
-- `order_plans`: a schedule (daily / weekly on a weekday / monthly on a day, at a local
-- time) and a template; kind `fixed` creates one order per period, kind `meter_age` one
-- meter-replacement order per meter older than `meter_age_years` (at most `max_per_run`,
-- oldest first). A period's run is a row of `plan_runs`, unique per plan and period key
-- (`2026-11-29`, `2026-W48`, `2026-11`) and written in the transaction that creates its
-- orders: a second scheduler, a second replica or a restart creates nothing twice.
CREATE TABLE order_plans (
    id {{pk}},
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    type_code TEXT NOT NULL REFERENCES order_types(code),
    every TEXT NOT NULL,
    day BIGINT NOT NULL DEFAULT 0,
    at_time TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    impact TEXT NOT NULL,
    urgency TEXT NOT NULL,
    lat_e6 BIGINT,
    lng_e6 BIGINT,
    meter_age_years BIGINT NOT NULL DEFAULT 0,
    max_per_run BIGINT NOT NULL DEFAULT 0,
    unit_id BIGINT NOT NULL REFERENCES units(id),
    enabled BIGINT NOT NULL DEFAULT 1,
    -- Periods due before this instant are not run (a new or re-enabled plan starts with
    -- its next scheduled time).
    active_from TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX order_plans_enabled ON order_plans(enabled);

CREATE TABLE plan_runs (
    id {{pk}},
    plan_id BIGINT NOT NULL REFERENCES order_plans(id),
    period_key TEXT NOT NULL,
    due_at TEXT NOT NULL,
    orders_created BIGINT NOT NULL DEFAULT 0,
    -- Why a run created nothing (e.g. the order type is disabled).
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (plan_id, period_key)
);

-- The orders of a run; `meter_id` for meter-replacement plans (a meter gets no second
-- order while one is open or was created in the same period).
CREATE TABLE plan_run_orders (
    run_id BIGINT NOT NULL REFERENCES plan_runs(id),
    order_id BIGINT NOT NULL REFERENCES work_orders(id),
    meter_id BIGINT,
    PRIMARY KEY (run_id, order_id)
);
CREATE INDEX plan_run_orders_meter ON plan_run_orders(meter_id);

-- Callbacks (webhooks): an order reaching a subscribed state queues one `webhook.deliver`
-- job per matching subscription in the transition's transaction; every attempt is recorded.
CREATE TABLE webhook_subscriptions (
    id {{pk}},
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- Comma-separated event kinds: order.resolved, order.concluded, order.cancelled, order.rejected.
    events TEXT NOT NULL,
    -- Comma-separated order origins (hotline12345, billing, …); empty: every origin.
    origins TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id {{pk}},
    subscription_id BIGINT NOT NULL REFERENCES webhook_subscriptions(id),
    -- The delivery id (the job's id, sent as X-Waterdesk-Delivery) and the attempt.
    job_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    order_id BIGINT NOT NULL REFERENCES work_orders(id),
    event TEXT NOT NULL,
    ok BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT NOT NULL DEFAULT '',
    duration_ms BIGINT NOT NULL DEFAULT 0,
    at TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, id);
CREATE INDEX webhook_deliveries_job ON webhook_deliveries(job_id);
