-- File imports run in the background with progress (issue 3, R-CUS-03): one row per run,
-- with its final report. A run left "running" by a stopped process reads as interrupted.

CREATE TABLE imports (
    id {{pk}},
    kind TEXT NOT NULL,
    mode TEXT NOT NULL,
    file_name TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    file_bytes BIGINT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    total BIGINT NOT NULL DEFAULT 0,
    done BIGINT NOT NULL DEFAULT 0,
    report TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    beat_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX imports_user ON imports(user_id, id);
