-- Custom reports (R-DATA-03/04): a saved definition of the service indicators (dimensions,
-- indicators, filters, period) owned by a user, optionally shared with the owner's unit,
-- optionally delivered by e-mail on a schedule.
--
-- `definition` is JSON checked by the services (services::reports::Definition). The
-- schedule columns mirror order plans: `every` none/daily/weekly/monthly, `day` the weekday
-- (1–7) or day of month (1–31), `at_time` the local `HH:MM`. `next_run_at` is when the
-- next period's delivery falls due (NULL: not scheduled); the scheduler reads it through
-- its index.
CREATE TABLE reports (
    id {{pk}},
    owner_id BIGINT NOT NULL REFERENCES users(id),
    unit_id BIGINT NOT NULL REFERENCES units(id),
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    shared BIGINT NOT NULL DEFAULT 0,
    every TEXT NOT NULL DEFAULT 'none',
    day BIGINT NOT NULL DEFAULT 0,
    at_time TEXT NOT NULL DEFAULT '08:00',
    -- Comma-separated e-mail addresses.
    recipients TEXT NOT NULL DEFAULT '',
    next_run_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX reports_owner ON reports(owner_id);
CREATE INDEX reports_unit_shared ON reports(unit_id, shared);
CREATE INDEX reports_next_run ON reports(next_run_at);

-- One scheduled delivery per report and schedule period, claimed in the transaction that
-- queues its job: a second scheduler round, a second replica or a restart sends nothing
-- twice. `status`: pending (queued), sent, failed (the last attempt's error in `error`;
-- the job queue retries with backoff), skipped (nothing to send to).
CREATE TABLE report_runs (
    id {{pk}},
    report_id BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    period_key TEXT NOT NULL,
    period_start TEXT NOT NULL,
    -- The cohort the run reported on, [cohort_from, cohort_to), evaluated as of `due_at`.
    cohort_from TEXT NOT NULL,
    cohort_to TEXT NOT NULL,
    due_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    rows_count BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    sent_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (report_id, period_start)
);
