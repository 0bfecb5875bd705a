-- Attachments (issue 5 R-WO-07, issue 4 R-CALL-01): photos, short videos and signatures of
-- work orders, and files of contacts. The bytes live in the blob store (a local directory
-- by default); a row keeps what the file is, who sent it, from where, and its digest, so
-- a repeated upload (a phone retrying on a bad network) is recognised.
CREATE TABLE attachments (
    id {{pk}},
    order_id BIGINT REFERENCES work_orders(id),
    contact_id BIGINT REFERENCES contacts(id),
    stage TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_name TEXT NOT NULL DEFAULT '',
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    thumb_key TEXT,
    width BIGINT,
    height BIGINT,
    uploaded_by BIGINT REFERENCES users(id),
    lat_e6 BIGINT,
    lng_e6 BIGINT,
    created_at TEXT NOT NULL
);
CREATE INDEX attachments_order ON attachments(order_id, id);
CREATE INDEX attachments_contact ON attachments(contact_id, id);
