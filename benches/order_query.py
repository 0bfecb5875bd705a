#!/usr/bin/env python3
"""Conditional queries and their Excel export over HTTP (issue 6, R-DATA-02/03, DESIGN §7:
"conditional query, 3 filters + free text: p99 ≤ 300 ms"; "Excel export of 100,000 rows:
≤ 5 s, memory flat").

    benches/order_query.py --binary PATH --data-dir DIR [--orders 1000000] [--contacts 0]
                           [--months 12] [--runs 200] [--port 18097] [--export-rows 100000] [--seed]

PostgreSQL: set WATERDESK_DATABASE_URL to an empty database and pass --seed.

What it does:

1. if DIR has no database yet, `waterdesk --data-dir DIR seed --customers 0 --orders N
   --contacts M --months K` (the project's own seeder: 12 roads, realistic types, channels,
   states; see docs/OPERATIONS.md) — otherwise the existing data set is reused;
2. starts `waterdesk serve --demo` on 127.0.0.1:PORT, creates `bench.query` (role
   supervisor, unit root, scope all) and signs in;
3. times `POST /api/v1/orders/query` one request at a time (`--runs` each, after 10
   warm-up requests) for these queries, all newest first, 50 rows a page:
   - `3f+text hit`:  registered in the last 30 days AND type in (repair, complaint)
     AND channel = hotline AND text contains a road name (matches often);
   - `3f+text rare`: the same with a text that matches nothing (found from its search keys);
   - `3f+house no.`: the same with a road and house number ("文三路12号");
   - `3f+text common`: the same with a text of common bigrams that matches nothing (the
     worst case since the search keys: every row the three filters leave is read);
   - `3f+text p2`:   the second page of `3f+text hit` (keyset cursor);
   - `text only`:    only a road name (the book newest first until 50 match);
   - `text rare`:    only a text that matches nothing;
   and prints p50 / p95 / p99 / max in milliseconds and the row count;
4. exports the orders registered in a date window holding about `--export-rows` rows
   (found by counting pages of the query API would be slow, so the window is widened a
   month at a time with the export's own count in `total`), as the supervisor
   (limit 200,000): time from the POST to `done`, time to download, file size, and the
   server's RSS before and its peak (VmHWM) after, from /proc.

Timings are wall-clock from this client over loopback (Python's urllib, one connection per
request), so they include HTTP and JSON; the server runs on the same two cores.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PASSWORD = "Bench-query-2026"
PASSWORD2 = "Bench-query-2027!"


def http(method, url, token=None, body=None, raw=False):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            payload = r.read()
            return r.status, payload if raw else (json.loads(payload) if payload else None)
    except urllib.error.HTTPError as e:
        payload = e.read()
        try:
            return e.code, json.loads(payload)
        except ValueError:
            return e.code, payload


def rss_kb(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--contacts", type=int, default=0)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--port", type=int, default=18097)
    ap.add_argument("--export-rows", type=int, default=100_000)
    ap.add_argument("--export-days", type=int, default=0, help="export exactly this many days back (instead of months)")
    ap.add_argument("--seed", action="store_true", help="seed even if a database exists (use for PostgreSQL)")
    a = ap.parse_args()
    data = Path(a.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, WATERDESK_LOG__LEVEL="warn")
    if a.seed or not (data / "waterdesk.db").exists() and "WATERDESK_DATABASE_URL" not in env:
        t0 = time.time()
        subprocess.run([a.binary, "--data-dir", str(data), "seed", "--customers", "0", "--orders", str(a.orders),
                        "--contacts", str(a.contacts), "--months", str(a.months)], check=True, env=env)
        print(f"seeded {a.orders} orders in {time.time() - t0:.0f} s")
    base = f"http://127.0.0.1:{a.port}"
    log = open(data / "bench-server.log", "a")
    server = subprocess.Popen([a.binary, "--data-dir", str(data), "serve", "--demo", "--bind", f"127.0.0.1:{a.port}"],
                              stdout=log, stderr=log, env=env)
    try:
        for _ in range(600):
            try:
                if http("GET", base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        subprocess.run([a.binary, "--data-dir", str(data), "user", "create", "--username", "bench.query", "--roles",
                        "supervisor", "--unit", "root", "--password", PASSWORD], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        st, r = http("POST", base + "/api/v1/auth/login", body={"username": "bench.query", "password": PASSWORD})
        if st == 200:
            http("POST", base + "/api/v1/me/password", r["token"],
                 {"old_password": PASSWORD, "new_password": PASSWORD2})
        st, r = http("POST", base + "/api/v1/auth/login", body={"username": "bench.query", "password": PASSWORD2})
        assert st == 200, (st, r)
        token = r["token"]
        today = dt.date.today()
        month_ago = (today - dt.timedelta(days=30)).isoformat()

        def three(text):
            return {"where": {"all": [
                {"field": "registered_at", "op": "between", "value": {"from": month_ago, "to": today.isoformat()}},
                {"field": "type", "op": "in", "value": ["repair", "complaint"]},
                {"field": "channel", "op": "eq", "value": "hotline"},
                {"field": "text", "op": "contains", "value": text},
            ]}, "limit": 50}

        st, first = http("POST", base + "/api/v1/orders/query", token, three("文三路"))
        assert st == 200, first
        page2 = dict(three("文三路"), after=first["next"]) if first.get("next") else three("文三路")
        cases = [
            ("3f+text hit", three("文三路")),
            ("3f+text rare", three("没有这个词")),
            ("3f+house no.", three("文三路12号")),
            ("3f+text common", three("水管漏水管")),
            ("3f+text p2", page2),
            ("text only", {"where": {"all": [{"field": "text", "op": "contains", "value": "莫干山路"}]}, "limit": 50}),
            ("text rare", {"where": {"all": [{"field": "text", "op": "contains", "value": "没有这个词"}]}, "limit": 50}),
        ]
        print(f"{'query':<15} {'rows':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  (ms, {a.runs} runs)")
        for name, q in cases:
            for _ in range(min(10, a.runs)):
                http("POST", base + "/api/v1/orders/query", token, q)
            times = []
            rows = 0
            for _ in range(a.runs):
                t0 = time.perf_counter()
                st, r = http("POST", base + "/api/v1/orders/query", token, q)
                times.append((time.perf_counter() - t0) * 1000)
                assert st == 200, r
                rows = len(r["items"])
            print(f"{name:<15} {rows:>5} {statistics.median(times):8.1f} {pct(times, 95):8.1f} {pct(times, 99):8.1f} "
                  f"{max(times):8.1f}")

        # Export: a window of registration dates holding about --export-rows orders.
        per_month = max(1, a.orders // max(1, a.months))
        months = max(1, min(a.months, -(-a.export_rows // per_month)))
        while True:
            start = (today - dt.timedelta(days=a.export_days or 30 * months)).isoformat()
            q = {"where": {"all": [{"field": "registered_at", "op": "between",
                                    "value": {"from": start, "to": today.isoformat()}}]}}
            rss0 = rss_kb(server.pid, "VmRSS")
            t0 = time.perf_counter()
            st, run = http("POST", base + "/api/v1/orders/query/exports", token, q)
            if st != 202:
                print("export refused:", run)
                break
            while run["state"] == "running":
                time.sleep(0.2)
                st, run = http("GET", base + f"/api/v1/orders/query/exports/{run['id']}", token)
            t_done = time.perf_counter() - t0
            st, blob = http("GET", base + f"/api/v1/orders/query/exports/{run['id']}/file", token, raw=True)
            t_all = time.perf_counter() - t0
            if run["total"] < a.export_rows and months < a.months and not a.export_days:
                months += 1
                continue
            print(f"export {run['total']} rows ({start}..{today}): {run['state']} in {t_done:.1f} s, "
                  f"with download {t_all:.1f} s, {len(blob) / 1e6:.1f} MB; server RSS {rss0 / 1024:.0f} MB before, "
                  f"peak {rss_kb(server.pid, 'VmHWM') / 1024:.0f} MB")
            break
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
