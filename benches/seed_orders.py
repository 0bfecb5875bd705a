#!/usr/bin/env python3
"""Loads a work-order benchmark data set into a waterdesk database that the server has
already created (migrated, demo loaded) and that it is NOT running against:

  benches/seed_orders.py sqlite:PATH | postgres://URL [--crews 1000] [--open 100000]
                         [--closed 200000] [--accept 100000]

- `--crews` field workers (role field_worker) in the demo's repair team, each with a
  position around Hangzhou and a few orders in hand;
- `--open` open repair orders: `--accept` of them `registered` at version 1 (what the
  transition benchmark accepts, one request per order, ids from the first printed id
  upwards), the rest dispatched / acknowledged / in progress to the crews;
- `--closed` concluded orders (history the workload and list queries must skip).

Every row is what the application itself writes (same columns, same timestamp format);
it prints `first_registered=<id> last_registered=<id>` for the load generator.
Needs Python 3.11; PostgreSQL through psycopg 3 (`pip install 'psycopg[binary]'`).
"""

import argparse
import random
import sqlite3
import sys
import datetime as dt


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--crews", type=int, default=1000)
    ap.add_argument("--open", type=int, default=100_000)
    ap.add_argument("--closed", type=int, default=200_000)
    ap.add_argument("--accept", type=int, default=100_000)
    a = ap.parse_args()
    rnd = random.Random(7)
    pg = a.db.startswith("postgres")
    if pg:
        import psycopg
        conn = psycopg.connect(a.db, autocommit=False)
        ph = "%s"
    else:
        conn = sqlite3.connect(a.db.removeprefix("sqlite:"))
        conn.execute("PRAGMA foreign_keys = ON")
        ph = "?"
    cur = conn.cursor()

    now = dt.datetime.now(dt.timezone.utc)
    cur.execute(f"SELECT id FROM units WHERE code = {ph}", ("network_team1",))
    team = cur.fetchone()[0]
    cur.execute(f"SELECT id FROM roles WHERE code = {ph}", ("field_worker",))
    role = cur.fetchone()[0]
    cur.execute(f"SELECT password_hash FROM users WHERE username = {ph}", ("worker",))
    pw_hash = cur.fetchone()[0]  # nobody signs in as these crews; any valid hash will do
    cur.execute(f"SELECT id FROM users WHERE username = {ph}", ("agent",))
    agent = cur.fetchone()[0]

    # Crews.
    users = [(f"bench_crew_{i:04d}", f"压测外勤{i:04d}", team, "staff", "own", "", "", pw_hash, ts(now), 0, 0, 0, 0, ts(now), ts(now))
             for i in range(a.crews)]
    cur.executemany(
        "INSERT INTO users (username, display_name, unit_id, kind, data_scope, phone, email, password_hash, "
        "password_changed_at, must_change_password, failed_attempts, disabled, totp_enabled, created_at, updated_at) "
        f"VALUES ({', '.join([ph] * 15)})", users)
    cur.execute(f"SELECT id FROM users WHERE username LIKE {ph} ORDER BY id", ("bench_crew_%",))
    crew_ids = [r[0] for r in cur.fetchall()]
    cur.executemany(f"INSERT INTO user_roles (user_id, role_id) VALUES ({ph}, {ph})", [(u, role) for u in crew_ids])
    cur.executemany(
        f"INSERT INTO crew_positions (user_id, lat_e6, lng_e6, accuracy_m, at) VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
        [(u, rnd.randint(30_150_000, 30_350_000), rnd.randint(120_000_000, 120_300_000), 10, ts(now)) for u in crew_ids])
    conn.commit()

    # Orders.
    cols = ("order_no, type_code, state, version, origin, impact, urgency, priority, title, content, address, "
            "lat_e6, lng_e6, unit_id, assignee_id, created_by, accepted_at, dispatched_at, concluded_at, "
            "created_at, updated_at")
    sql = f"INSERT INTO work_orders ({cols}) VALUES ({', '.join([ph] * 21)})"
    day = now.strftime("%Y%m%d")

    def rows(kind, n, start):
        for i in range(n):
            seq = start + i
            t = now - dt.timedelta(minutes=rnd.randint(1, 60 * 24 * 30))
            lat, lng = rnd.randint(30_150_000, 30_350_000), rnd.randint(120_000_000, 120_300_000)
            if kind == "registered":
                state, crew, acc, dis, con = "registered", None, None, None, None
            elif kind == "concluded":
                state, crew = "concluded", rnd.choice(crew_ids)
                acc, dis, con = ts(t), ts(t), ts(t + dt.timedelta(hours=5))
            else:
                state, crew, acc, dis, con = rnd.choice(["dispatched", "acknowledged", "in_progress"]), rnd.choice(crew_ids), ts(t), ts(t), None
            yield (f"WB{day}-{seq:07d}", "repair", state, 1, "staff", "medium", "medium", 3, f"压测工单 {seq}",
                   "小区内管道漏水", f"压测路{seq % 500}号", lat, lng, team, crew, agent, acc, dis, con, ts(t), ts(t))

    seq = 1
    for kind, n in (("concluded", a.closed), ("in_hand", a.open - a.accept), ("registered", a.accept)):
        batch = []
        for r in rows(kind, n, seq):
            batch.append(r)
            if len(batch) == 10_000:
                cur.executemany(sql, batch)
                batch = []
        if batch:
            cur.executemany(sql, batch)
        conn.commit()
        seq += n
    cur.execute(f"SELECT MIN(id), MAX(id) FROM work_orders WHERE order_no LIKE {ph} AND state = 'registered'", ("WB%",))
    lo, hi = cur.fetchone()
    conn.commit()
    if pg:
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE work_orders")
        cur.execute("VACUUM ANALYZE users")
    else:
        cur.execute("ANALYZE")
    print(f"crews={len(crew_ids)} first_registered={lo} last_registered={hi}")


if __name__ == "__main__":
    sys.exit(main())
