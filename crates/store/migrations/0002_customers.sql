-- Customers, accounts, meters and the built-in billing ledger (issue 3, R-CUS-01/02).
-- Money is integer fen; volumes and readings whole m³; coordinates micro-degrees;
-- dates (reading days, due dates) are local `YYYY-MM-DD` text.

CREATE TABLE customers (
    id {{pk}},
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    id_type TEXT NOT NULL DEFAULT '',
    id_number TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    wechat_openid TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    unit_id BIGINT NOT NULL REFERENCES units(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX customers_name ON customers(name);
CREATE INDEX customers_unit ON customers(unit_id);
CREATE INDEX customers_openid ON customers(wechat_openid);

CREATE TABLE customer_phones (
    id {{pk}},
    customer_id BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    phone TEXT NOT NULL,
    last4 TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (customer_id, phone)
);
CREATE INDEX customer_phones_phone ON customer_phones(phone);
CREATE INDEX customer_phones_last4 ON customer_phones(last4);

CREATE TABLE tariffs (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE accounts (
    id {{pk}},
    account_no TEXT NOT NULL UNIQUE,
    holder_id BIGINT NOT NULL REFERENCES customers(id),
    address TEXT NOT NULL,
    address_key TEXT NOT NULL,
    lat_e6 BIGINT,
    lon_e6 BIGINT,
    category TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    book_no TEXT NOT NULL DEFAULT '',
    unit_id BIGINT NOT NULL REFERENCES units(id),
    tariff_code TEXT NOT NULL REFERENCES tariffs(code),
    household_size BIGINT NOT NULL DEFAULT 4,
    e_bill BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX accounts_holder ON accounts(holder_id);
CREATE INDEX accounts_unit ON accounts(unit_id);
CREATE INDEX accounts_book ON accounts(book_no);

CREATE TABLE account_holders (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    from_at TEXT NOT NULL,
    to_at TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX account_holders_account ON account_holders(account_id);
CREATE INDEX account_holders_customer ON account_holders(customer_id);

CREATE TABLE meters (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    serial TEXT NOT NULL UNIQUE,
    diameter_mm BIGINT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    installed_on TEXT NOT NULL,
    removed_on TEXT,
    initial_reading BIGINT NOT NULL DEFAULT 0,
    last_reading BIGINT,
    last_read_on TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX meters_account ON meters(account_id);

CREATE TABLE meter_readings (
    id {{pk}},
    meter_id BIGINT NOT NULL REFERENCES meters(id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    read_on TEXT NOT NULL,
    reading BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    source TEXT NOT NULL,
    bill_id BIGINT,
    created_at TEXT NOT NULL,
    UNIQUE (meter_id, read_on)
);
CREATE INDEX meter_readings_account ON meter_readings(account_id, read_on);

CREATE TABLE bills (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    period TEXT NOT NULL,
    read_from TEXT NOT NULL,
    read_to TEXT NOT NULL,
    volume BIGINT NOT NULL,
    water_fen BIGINT NOT NULL,
    sewage_fen BIGINT NOT NULL,
    total_fen BIGINT NOT NULL,
    paid_fen BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    due_on TEXT NOT NULL,
    ytd_after BIGINT NOT NULL,
    lines TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (account_id, period)
);
CREATE INDEX bills_account ON bills(account_id, period);
CREATE INDEX bills_unpaid ON bills(status, due_on);

CREATE TABLE payments (
    id {{pk}},
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    paid_at TEXT NOT NULL,
    external_txn_id TEXT NOT NULL UNIQUE,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX payments_account ON payments(account_id, paid_at);

CREATE TABLE payment_allocations (
    payment_id BIGINT NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
    bill_id BIGINT NOT NULL REFERENCES bills(id) ON DELETE CASCADE,
    amount_fen BIGINT NOT NULL,
    PRIMARY KEY (payment_id, bill_id)
);
