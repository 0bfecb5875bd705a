-- Substring search on names and addresses without scanning: every customer's name and
-- account addresses are indexed as character bigrams (issue 3, look-ups on a million
-- customers). Rebuilt by `waterdesk reindex`.

CREATE TABLE search_grams (
    gram TEXT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    PRIMARY KEY (gram, customer_id)
){{without_rowid}};
CREATE INDEX search_grams_customer ON search_grams(customer_id);
