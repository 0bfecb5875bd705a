-- The call subsystem (issue 4, R-CALL-01..04, R-CALL-08): contact records (来电/来件) with
-- their unique number, CTI events (idempotent by call and event), and which agent sits at
-- which telephone extension.

CREATE TABLE contacts (
    id {{pk}},
    contact_no TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'customer',
    status TEXT NOT NULL,
    caller TEXT NOT NULL DEFAULT '',
    called TEXT NOT NULL DEFAULT '',
    customer_id BIGINT REFERENCES customers(id),
    account_id BIGINT REFERENCES accounts(id),
    agent_id BIGINT REFERENCES users(id),
    unit_id BIGINT NOT NULL REFERENCES units(id),
    category TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    reply TEXT NOT NULL DEFAULT '',
    replied_at TEXT,
    call_id TEXT UNIQUE,
    recording_url TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    answered_at TEXT,
    ended_at TEXT,
    duration_s BIGINT,
    ivr_rating BIGINT,
    order_no TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX contacts_started ON contacts(started_at);
CREATE INDEX contacts_caller ON contacts(caller, started_at);
CREATE INDEX contacts_customer ON contacts(customer_id, started_at);
CREATE INDEX contacts_account ON contacts(account_id, started_at);
CREATE INDEX contacts_agent ON contacts(agent_id, started_at);

CREATE TABLE cti_events (
    id {{pk}},
    call_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (call_id, event)
);

CREATE TABLE agent_extensions (
    extension TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    since TEXT NOT NULL
);
