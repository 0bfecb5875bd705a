-- Duplicate reports and merging (并单, R-WO-09).
--
-- `order_links`: every report joined to a master order, kept with its caller so that all
-- of them can be informed when the master concludes. A row is either a merged order
-- (`kind = 'order'`, `order_id` the duplicate, `contact_id` its originating contact if
-- any) or a contact attached as a further report of the same incident (`kind =
-- 'contact'`, no order). An order is merged at most once and a contact attached at most
-- once. Links always point at the top master: merging an order that has reports of its
-- own moves them to the new master, so there are no chains.
CREATE TABLE order_links (
    id {{pk}},
    master_id BIGINT NOT NULL REFERENCES work_orders(id),
    kind TEXT NOT NULL,
    order_id BIGINT REFERENCES work_orders(id),
    contact_id BIGINT REFERENCES contacts(id),
    caller TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX order_links_master ON order_links(master_id, id);
CREATE UNIQUE INDEX order_links_order ON order_links(order_id) WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX order_links_contact ON order_links(contact_id) WHERE kind = 'contact';

-- Candidates for a new report: open orders of a type within a latitude band (then a
-- longitude range and a registration window, read from the index). Open orders are a
-- small share of all orders, hence the partial index; its predicate is repeated verbatim
-- by the query (store::duplicates) so that both engines use it.
CREATE INDEX work_orders_open_site ON work_orders(type_code, lat_e6, lng_e6, created_at)
    WHERE state NOT IN ('concluded', 'rejected', 'cancelled');

-- "Already told?" when a master concludes: the outbox by reference.
CREATE INDEX sms_outbox_ref ON sms_outbox(ref, purpose);
