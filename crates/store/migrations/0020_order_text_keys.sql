-- Free-text search over work orders without reading every row (issue 6, R-DATA-02,
-- ARCHITECTURE D27): the search keys of each order's title, content and address (character
-- bigrams and house-number tokens as numbers, `domain::grams::text_keys`). A query for a
-- text looks up the postings of its rarest key and reads only those orders (still checked
-- with LIKE, so the index only ever narrows).
--
-- Orders registered before this migration are indexed in the background, newest first:
-- those with an id below `order_text_backfill.below` have no postings yet and are read
-- as before, so results are exact while it runs.

CREATE TABLE order_text_keys (
    key BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    PRIMARY KEY (key, order_id)
){{without_rowid}};

CREATE TABLE order_text_backfill (
    id INTEGER PRIMARY KEY,
    below BIGINT NOT NULL
);
INSERT INTO order_text_backfill (id, below) SELECT 1, COALESCE(MAX(id), 0) + 1 FROM work_orders;
