-- Indicator facts of open orders too (issue 6, ARCHITECTURE D24): an open order that is
-- not suspended contributes the same counts at every instant until something happens to
-- it, except "overdue unprocessed", which turns on when its complete deadline passes
-- (`overdue_after`, NULL: never). Reports sum these rows and replay only suspended orders
-- and orders changed since their row was written, instead of every open order.
--
-- `settled_at` now reads "since": the order's last fact, from which the row holds. Rows
-- written before are of settled orders, hence `closed_items` 1 and the open stages 0.
-- Every transition deletes the order's row in its transaction.

ALTER TABLE order_facts ADD COLUMN overdue_after TEXT;
ALTER TABLE order_facts ADD COLUMN not_accepted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_facts ADD COLUMN accepted_not_acknowledged BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_facts ADD COLUMN acknowledged_not_processed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_facts ADD COLUMN closed_items BIGINT NOT NULL DEFAULT 1;
