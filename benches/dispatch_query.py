#!/usr/bin/env python3
"""Latency of the dispatch-suggestion crew query and the escalation watcher's query
(issue 5, R-WO-05/06), on SQLite and on PostgreSQL, at 1,000 crew members and 100,000
open work orders (plus 300,000 closed ones).

    benches/dispatch_query.py [--backend sqlite|postgres|both] [--runs 200] [--warmup 20]
                              [--portal-users N] [--keep]

`--portal-users N` adds N users of kind 'customer' (portal accounts) after the staff: the
crew query must skip them, which shows whether it scales with the users table.

What it does, per backend:

1. creates a fresh database (SQLite: a file under /tmp; PostgreSQL: the database
   `wd_bench_dispatch`, dropped and re-created) and applies crates/store/migrations in
   order, with the same dialect tokens and statement split as crates/store (dialect.rs,
   migrate.rs);
2. loads the same deterministic data set into it (seed 42): 20 units in a three-level tree,
   the roles admin / dispatcher / agent / field_worker with their permissions, 1,000 crew
   members (staff, field_worker, one crew_positions row each around Hangzhou), 30 other
   staff (3 admins — one of them also a field worker —, dispatchers, agents, 5 disabled
   field workers), 100,000 open orders spread evenly over registered / accepted /
   dispatched / acknowledged / in_progress (the last three, 60 %, assigned to a random crew
   member; every open order has `sla_check_at`, half of them in the past) and 300,000
   concluded orders (assigned, `sla_check_at` NULL);
3. times the exact queries of crates/store/src/orders.rs — `crew` without a unit filter
   and `sla_due` with limit 500 — `--warmup` times, then `--runs` times (warm cache), and
   prints p50 / p95 / p99 / max and the row count, then the query plans.

SQLite is measured twice: as the application leaves the file (it never runs ANALYZE, so
there is no sqlite_stat1) and after ANALYZE. PostgreSQL is measured after VACUUM ANALYZE
(autovacuum does the same some time after a bulk load; it is off on the development
machine). PostgreSQL statements are server-side prepared, as sqlx prepares and caches them.

Timings are wall-clock from the client: execute + fetch of every row into Python (and, on
PostgreSQL, the loopback round trip), with the garbage collector paused. They include
Python's row conversion, which the Rust server does not pay in the same way; EXPLAIN
ANALYZE shows PostgreSQL's own execution time.

Requirements: Python 3.11 (sqlite3 from the standard library). PostgreSQL uses psycopg 3
(`pip install 'psycopg[binary]'`) against postgres://postgres@127.0.0.1:5432 (trust auth);
the bench database is dropped at the end unless --keep.
"""

import argparse
import datetime as dt
import gc
import math
import os
import random
import re
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "crates" / "store" / "migrations"
ORDERS_RS = ROOT / "crates" / "store" / "src" / "orders.rs"
PG_DB = "wd_bench_dispatch"

# "Now" of the data set; timestamps are fixed-width RFC 3339 UTC with microseconds, as
# crates/store writes them (`%Y-%m-%dT%H:%M:%S%.6fZ`), so text comparison is time order.
NOW = dt.datetime(2026, 11, 29, 10, 0, 0, tzinfo=dt.timezone.utc)

# --- The queries, verbatim from crates/store/src/orders.rs --------------------------------

# `crew(conn, None)`: the base text, then " ORDER BY u.id" (no unit filter).
CREW_BASE = """SELECT u.id, u.username, u.display_name, u.unit_id, un.name AS unit_name, un.path AS unit_path, u.skills,
            p.lat_e6, p.lng_e6, p.at AS pos_at,
            (SELECT COUNT(*) FROM work_orders w WHERE w.assignee_id = u.id
                AND w.state IN ('dispatched', 'acknowledged', 'in_progress')) AS open_orders
         FROM users u JOIN units un ON un.id = u.unit_id
         LEFT JOIN crew_positions p ON p.user_id = u.id
         WHERE u.disabled = 0 AND u.kind = 'staff'
           AND EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
                       WHERE ur.user_id = u.id AND rp.permission = 'order.handle')
           AND NOT EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                           WHERE ur.user_id = u.id AND r.code = 'admin')"""
CREW_SQL = CREW_BASE + " ORDER BY u.id"

ORDER_COLS = (
    "id, order_no, type_code, state, suspended_from, version, origin, origin_ref, contact_id, "
    "customer_id, account_id, category, impact, urgency, priority, title, content, address, lat_e6, lng_e6, caller, "
    "unit_id, assignee_id, created_by, master_id, fields, accepted_at, dispatched_at, acknowledged_at, arrived_at, "
    "resolved_at, concluded_at, replied_at, sla_check_at, overdue, created_at, updated_at"
)
# `sla_due(conn, now, 500)`: $1 = now (text), $2 = limit (bigint).
SLA_SQL = f"""SELECT {ORDER_COLS} FROM work_orders WHERE sla_check_at IS NOT NULL AND sla_check_at <= $1
             ORDER BY sla_check_at LIMIT $2"""
SLA_LIMIT = 500


def check_queries_current():
    """Warns when orders.rs no longer contains the query texts copied above."""
    squash = lambda s: " ".join(s.split())
    src = squash(ORDERS_RS.read_text())
    for name, text in (("crew", CREW_BASE), ("sla_due", SLA_SQL.replace(ORDER_COLS, "{ORDER_COLS}"))):
        if squash(text) not in src:
            print(f"WARNING: the {name} query differs from {ORDERS_RS.relative_to(ROOT)}; update this script",
                  file=sys.stderr)


# --- Schema -------------------------------------------------------------------------------

def migration_statements(backend):
    """The migrations' statements, as crates/store runs them: dialect tokens replaced
    (dialect::ddl), split at a `;` that ends a line, comment and blank lines dropped
    (migrate::statements)."""
    pk = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
          "postgres": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"}[backend]
    without_rowid = " WITHOUT ROWID" if backend == "sqlite" else ""
    for path in sorted(MIGRATIONS.glob("*.sql")):
        script = path.read_text().replace("{{pk}}", pk).replace("{{without_rowid}}", without_rowid)
        cur = []
        for line in script.splitlines():
            t = line.strip()
            if not t or t.startswith("--"):
                continue
            cur.append(line)
            if t.endswith(";"):
                yield path.name, "\n".join(cur)
                cur = []
        if cur:
            yield path.name, "\n".join(cur)


# --- Data ---------------------------------------------------------------------------------

def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Permissions of the built-in roles (crates/domain/src/permissions.rs); admin has all but
# portal.self, every staff role also dict.read.
ALL_PERMS = """admin.unit.read admin.unit.write admin.user.read admin.user.write admin.dict.write admin.param.read
admin.param.write admin.job.read admin.announce security.role.read security.role.write security.user.grant
security.user.unlock audit.read dict.read customer.read customer.write customer.pii.read billing.write contact.read
contact.write contact.qa campaign.manage order.read order.create order.accept order.dispatch order.handle
order.approve order.verify order.visit report.read report.export kb.read kb.write monitor.read""".split()
ROLES = [  # id, code, permissions
    (1, "admin", ALL_PERMS),
    (2, "dispatcher", "customer.read customer.pii.read contact.read order.read order.create order.accept "
                      "order.dispatch order.verify kb.read monitor.read dict.read".split()),
    (3, "agent", "customer.read customer.write customer.pii.read contact.read contact.write order.read "
                 "order.create order.visit kb.read dict.read".split()),
    (4, "field_worker", "customer.read order.read order.handle kb.read dict.read".split()),
]
OPEN_STATES = ["registered", "accepted", "dispatched", "acknowledged", "in_progress"]
ASSIGNED_STATES = {"dispatched", "acknowledged", "in_progress"}
ORDER_TYPES = ["repair", "leak", "meter", "complaint", "consult"]


def build_data(crew_n, open_n, closed_n, portal_n):
    """Returns [(table, columns, rows)] in insertion (foreign-key) order; deterministic."""
    rnd = random.Random(42)
    now_s = ts(NOW)
    tables = []

    # Units: 1 root, 4 branches under it, 15 stations under the branches; path '/1/3/9/'.
    units, path = [], {}
    for uid in range(1, 21):
        parent = None if uid == 1 else (1 if uid <= 5 else 2 + (uid - 6) % 4)
        path[uid] = (path[parent] if parent else "/") + f"{uid}/"
        kind = "company" if uid == 1 else ("branch" if uid <= 5 else "station")
        units.append((uid, parent, f"U{uid:03d}", f"单位{uid}", f"Unit {uid}", kind, path[uid], uid, 1, now_s, now_s))
    tables.append(("units", "id parent_id code name name_en kind path sort_order enabled created_at updated_at", units))
    stations = list(range(6, 21))

    tables.append(("roles", "id code name created_at updated_at",
                   [(rid, code, code, now_s, now_s) for rid, code, _ in ROLES]))
    tables.append(("role_permissions", "role_id permission",
                   [(rid, p) for rid, _, perms in ROLES for p in perms]))

    # Users: 30 other staff (ids 1..30), then the crew, then optional portal customers.
    hash_ = "$argon2id$v=19$m=19456,t=2,p=1$" + "x" * 22 + "$" + "y" * 43
    users, user_roles = [], []

    def user(uid, name, unit, kind="staff", disabled=0, skills=""):
        users.append((uid, name, f"姓名{uid}", unit, kind, f"139{uid:08d}", hash_, now_s, disabled, skills,
                      now_s, now_s))

    for uid in range(1, 31):
        if uid <= 3:      # admins (hold order.handle through admin; excluded by NOT EXISTS)
            user(uid, f"admin{uid}", 1)
            user_roles.append((uid, 1))
            if uid == 3:  # an admin who is also a field worker: still excluded
                user_roles.append((uid, 4))
        elif uid <= 13:
            user(uid, f"dispatcher{uid}", rnd.choice(range(2, 6)))
            user_roles.append((uid, 2))
        elif uid <= 25:
            user(uid, f"agent{uid}", rnd.choice(range(2, 6)))
            user_roles.append((uid, 3))
        else:             # disabled field workers
            user(uid, f"former{uid}", rnd.choice(stations), disabled=1)
            user_roles.append((uid, 4))
    crew_ids = list(range(31, 31 + crew_n))
    positions = []
    for uid in crew_ids:
        skills = rnd.choice(["", "", "", "repair", "repair,leak", "meter"])
        user(uid, f"crew{uid}", rnd.choice(stations), skills=skills)
        user_roles.append((uid, 4))
        seen = NOW - dt.timedelta(seconds=rnd.randint(0, 7200))
        positions.append((uid, rnd.randint(30_150_000, 30_350_000), rnd.randint(120_000_000, 120_300_000),
                          rnd.randint(5, 50), ts(seen)))
    for uid in range(31 + crew_n, 31 + crew_n + portal_n):
        user(uid, f"c{uid}", rnd.choice(stations), kind="customer")
    tables.append(("users", "id username display_name unit_id kind phone password_hash password_changed_at disabled "
                            "skills created_at updated_at", users))
    tables.append(("user_roles", "user_id role_id", user_roles))
    tables.append(("crew_positions", "user_id lat_e6 lng_e6 accuracy_m at", positions))

    tables.append(("order_types", "id code name_zh name_en workflow targets sort_order updated_at",
                   [(i + 1, c, c, c, "{}", "{}", i, now_s) for i, c in enumerate(ORDER_TYPES)]))

    # Work orders: closed ones over the past year, then the open ones over the past 14 days
    # (ids ascend with created_at). Each state carries the timestamps its path sets.
    titles = ["水表漏水", "管道爆裂", "水压不足", "水质浑浊", "表计故障", "停水咨询", "账单疑问", "井盖破损"]
    streets = ["文三路", "天目山路", "莫干山路", "延安路", "解放路", "学院路", "古墩路", "江南大道"]
    cols = ("id order_no type_code state version origin impact urgency priority title content address lat_e6 lng_e6 "
            "caller unit_id assignee_id created_by accepted_at dispatched_at acknowledged_at arrived_at resolved_at "
            "concluded_at sla_check_at overdue created_at updated_at")
    orders = []
    plans = [(closed_n, 365 * 86400, "concluded"), (open_n, 14 * 86400, None)]
    oid = 0
    for count, span, fixed_state in plans:
        starts = sorted(rnd.uniform(0, span) for _ in range(count))
        for back in reversed(starts):
            oid += 1
            created = NOW - dt.timedelta(seconds=back)
            state = fixed_state or OPEN_STATES[rnd.randrange(5)]
            step = lambda k: ts(created + dt.timedelta(minutes=7 * k + rnd.randint(0, 5)))
            stage = {"registered": 0, "accepted": 1, "dispatched": 2, "acknowledged": 3, "in_progress": 4,
                     "concluded": 6}[state]
            assignee = rnd.choice(crew_ids) if state in ASSIGNED_STATES or state == "concluded" else None
            if fixed_state:
                sla = None  # closed: no clock runs
            else:           # open: the next check, half of them already due
                sla = ts(NOW + dt.timedelta(seconds=rnd.randint(-7 * 86400, 7 * 86400 - 1)))
            title = rnd.choice(titles)
            orders.append((
                oid, f"WO{created:%Y%m%d}-{oid:07d}", rnd.choice(ORDER_TYPES), state, 1 + stage,
                rnd.choice(["phone", "phone", "wechat", "web"]), rnd.choice(["low", "medium", "high"]),
                rnd.choice(["low", "medium", "high"]), rnd.randint(1, 4), title,
                f"客户来电反映{title}，请尽快处理。联系人在家，可上门。" * 2,
                f"杭州市西湖区{rnd.choice(streets)}{rnd.randint(1, 999)}号", rnd.randint(30_150_000, 30_350_000),
                rnd.randint(120_000_000, 120_300_000), f"138{rnd.randint(0, 99_999_999):08d}",
                rnd.choice(stations), assignee, rnd.randint(14, 25),
                step(1) if stage >= 1 else None, step(2) if stage >= 2 else None, step(3) if stage >= 3 else None,
                step(4) if stage >= 4 else None, step(5) if stage >= 5 else None, step(6) if stage >= 6 else None,
                sla, 1 if rnd.random() < 0.03 else 0, ts(created), step(stage)))
    tables.append(("work_orders", cols, orders))
    return [(t, c.split(), rows) for t, c, rows in tables]


# --- Timing and printing ------------------------------------------------------------------

def percentile(sorted_ms, p):
    """Nearest-rank percentile of sorted samples."""
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


def measure(label, run, warmup, runs, expect_rows=None):
    """Calls run() warmup times, then runs times; prints and returns the latency summary."""
    for _ in range(warmup):
        n = run()
    gc.disable()
    try:
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            n = run()
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        gc.enable()
    s = sorted(samples)
    res = dict(p50=percentile(s, 50), p95=percentile(s, 95), p99=percentile(s, 99), max=s[-1], rows=n)
    flag = "" if expect_rows is None or n == expect_rows else f"  <-- expected {expect_rows} rows!"
    print(f"  {label:<44} p50 {res['p50']:8.3f} ms  p95 {res['p95']:8.3f}  p99 {res['p99']:8.3f}  "
          f"max {res['max']:8.3f}  rows {n}{flag}", flush=True)
    return res


def print_block(title, text):
    print(f"\n  -- {title}")
    for line in text.rstrip().splitlines():
        print("     " + line)


def load_note(when):
    la = os.getloadavg()
    print(f"[{when}] load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} on {os.cpu_count()} CPUs", flush=True)


# --- SQLite -------------------------------------------------------------------------------

def sqlite_connect(path):
    """A connection with the application's settings (crates/store/src/db.rs)."""
    conn = sqlite3.connect(path, isolation_level=None)  # autocommit; explicit BEGIN below
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON", "busy_timeout = 10000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def sqlite_plan(conn, sql, params=()):
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    depth = {0: -1}
    out = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        out.append("  " * depth[node] + detail)
    return "\n".join(out)


def bench_sqlite(args, data, crew_expected):
    path = args.sqlite_path
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    print(f"\n=== SQLite {sqlite3.sqlite_version} (Python sqlite3), {path}", flush=True)

    t0 = time.perf_counter()
    conn = sqlite_connect(path)
    conn.execute("PRAGMA synchronous = NORMAL")  # seeding only: one fsync per commit is enough
    conn.execute("BEGIN")
    for _, stmt in migration_statements("sqlite"):
        conn.execute(stmt)
    conn.execute("COMMIT")
    for table, cols, rows in data:
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = os.path.getsize(path) / 2**20
    print(f"  seeded in {time.perf_counter() - t0:.1f} s, file {size:.0f} MiB", flush=True)

    now_s = ts(NOW)
    sla_params = {"1": now_s, "2": SLA_LIMIT}  # $1 / $2 are named parameters "1" / "2" to sqlite3
    results = {}
    for phase in ("no ANALYZE (as the application leaves it)", "after ANALYZE"):
        if phase == "after ANALYZE":
            c = sqlite_connect(path)
            t1 = time.perf_counter()
            c.execute("ANALYZE")
            print(f"\n  ANALYZE took {time.perf_counter() - t1:.1f} s", flush=True)
            c.close()
        conn = sqlite_connect(path)  # a fresh connection: the query planner sees sqlite_stat1
        print(f"\n  [{phase}]")
        results[("sqlite", phase, "crew")] = measure(
            "crew (dispatch suggestions)", lambda: len(conn.execute(CREW_SQL).fetchall()),
            args.warmup, args.runs, crew_expected)
        results[("sqlite", phase, "sla")] = measure(
            f"sla_due (LIMIT {SLA_LIMIT})", lambda: len(conn.execute(SLA_SQL, sla_params).fetchall()),
            args.warmup, args.runs, SLA_LIMIT)
        print_block("EXPLAIN QUERY PLAN crew", sqlite_plan(conn, CREW_SQL))
        print_block("EXPLAIN QUERY PLAN sla_due", sqlite_plan(conn, SLA_SQL, sla_params))
        conn.close()
    return results


# --- PostgreSQL ---------------------------------------------------------------------------

def pg_sql(sql):
    """`$n` placeholders (in order of number, as in these queries) to psycopg's `%s`."""
    assert [int(n) for n in re.findall(r"\$(\d+)", sql)] == sorted(int(n) for n in re.findall(r"\$(\d+)", sql))
    return re.sub(r"\$\d+", "%s", sql)


def bench_postgres(args, data, crew_expected):
    import psycopg  # pip install 'psycopg[binary]'

    base = args.pg_url.rstrip("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as admin:
        version = admin.execute("SHOW server_version").fetchone()[0]
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DB}")
    print(f"\n=== PostgreSQL {version}, {base}/{PG_DB} (psycopg {psycopg.__version__})", flush=True)
    results = {}
    try:
        t0 = time.perf_counter()
        with psycopg.connect(f"{base}/{PG_DB}") as conn:
            with conn.transaction():
                for _, stmt in migration_statements("postgres"):
                    conn.execute(stmt)
            with conn.transaction():
                for table, cols, rows in data:
                    with conn.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                        for row in rows:
                            cp.write_row(row)
                # Explicit ids were loaded: move the identity sequences past them.
                for table, cols, _ in data:
                    if "id" in cols and conn.execute(
                            "SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]:
                        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
            seeded = time.perf_counter() - t0
            conn.autocommit = True
            t1 = time.perf_counter()
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
            print(f"  seeded in {seeded:.1f} s, VACUUM ANALYZE {time.perf_counter() - t1:.1f} s, "
                  f"database {size:.0f} MiB", flush=True)
            settings = conn.execute(
                "SELECT string_agg(name || '=' || setting || COALESCE(unit, ''), ', ' ORDER BY name) FROM pg_settings "
                "WHERE name IN ('shared_buffers', 'work_mem', 'jit', 'random_page_cost', 'effective_cache_size', "
                "'max_parallel_workers_per_gather', 'plan_cache_mode')").fetchone()[0]
            print(f"  settings: {settings}")

            now_s = ts(NOW)
            crew_q, sla_q = pg_sql(CREW_SQL), pg_sql(SLA_SQL)
            print("\n  [after VACUUM ANALYZE; server-side prepared statements, as sqlx]")
            results[("postgres", "", "crew")] = measure(
                "crew (dispatch suggestions)", lambda: len(conn.execute(crew_q, prepare=True).fetchall()),
                args.warmup, args.runs, crew_expected)
            results[("postgres", "", "sla")] = measure(
                f"sla_due (LIMIT {SLA_LIMIT})",
                lambda: len(conn.execute(sla_q, (now_s, SLA_LIMIT), prepare=True).fetchall()),
                args.warmup, args.runs, SLA_LIMIT)

            explain = lambda sql, params=None: "\n".join(
                r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall())
            print_block("EXPLAIN (ANALYZE, BUFFERS) crew", explain(crew_q))
            print_block("EXPLAIN (ANALYZE, BUFFERS) sla_due (custom plan: $1, $2 known)",
                        explain(sla_q, (now_s, SLA_LIMIT)))
            # After five executions a prepared statement may switch to the generic plan (one
            # that does not look at $1); show that one too. sqlx binds text and int8.
            conn.execute(f"PREPARE sla_generic (text, bigint) AS {SLA_SQL}")
            conn.execute("SET plan_cache_mode = force_generic_plan")
            print_block("EXPLAIN (ANALYZE, BUFFERS) sla_due (generic plan)",
                        explain(f"EXECUTE sla_generic ('{now_s}', {SLA_LIMIT})"))
            conn.execute("RESET plan_cache_mode")
            conn.execute("DEALLOCATE sla_generic")
    finally:
        if not args.keep:
            with psycopg.connect(base + "/postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            print(f"\n  dropped database {PG_DB}")
    return results


# --- Main ---------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--crew", type=int, default=1000)
    ap.add_argument("--open", type=int, default=100_000, help="open work orders")
    ap.add_argument("--closed", type=int, default=300_000, help="concluded work orders")
    ap.add_argument("--portal-users", type=int, default=0,
                    help="extra users of kind 'customer' (portal accounts) that the crew query must skip")
    ap.add_argument("--sqlite-path", default="/tmp/wd_bench_dispatch.sqlite")
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = ap.parse_args()

    check_queries_current()
    load_note("start")
    t0 = time.perf_counter()
    data = build_data(args.crew, args.open, args.closed, args.portal_users)
    counts = ", ".join(f"{t} {len(r):,}" for t, _, r in data)
    print(f"data generated in {time.perf_counter() - t0:.1f} s: {counts}", flush=True)

    if args.backend in ("sqlite", "both"):
        bench_sqlite(args, data, args.crew)
        load_note("after SQLite")
    if args.backend in ("postgres", "both"):
        bench_postgres(args, data, args.crew)
        load_note("after PostgreSQL")


if __name__ == "__main__":
    main()
