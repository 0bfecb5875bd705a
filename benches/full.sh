#!/usr/bin/env bash
# The DESIGN §7 targets that need the full data set and are not covered by the other
# scripts: restart to ready, the first page of open orders, server memory with 500 open
# connections, and the supervisor dashboard (issue 6).
#   waterdesk --data-dir DIR seed --customers 1000000 --orders 10000000 --contacts 13000000
#   benches/full.sh DIR [seconds]
# (SQLite in DIR, or PostgreSQL with WATERDESK_DATABASE_URL set as when seeding.) The
# indicators, conditional queries, exports and customer look-ups have their own scripts:
# indicators.sh, order_query.py, customers.sh. Needs a release build (BIN), wrk, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:?data directory of a seeded database}"
SECS="${2:-15}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/waterdesk}"
PORT="${PORT:-18095}"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
export WATERDESK_LOG__LEVEL=warn
SERVER=
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
start() { # sets SERVER, and READY: seconds from starting the process to /readyz answering
  local t0
  t0=$(date +%s.%N)
  "$BIN" --data-dir "$DIR" serve --bind "127.0.0.1:$PORT" >> "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 6000); do
    if curl -sf "$BASE/readyz" >/dev/null; then
      READY=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')")
      return
    fi
    sleep 0.01
  done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
if curl -sf "$BASE/readyz" >/dev/null 2>&1; then echo "port $PORT is taken"; exit 1; fi
start # migrations, if any, and the page cache
TIMES=()
for _ in 1 2 3; do
  stop
  start
  TIMES+=("$READY")
done
echo "== restart to ready (three restarts): ${TIMES[*]} s"
user() { # username role: a bench user that has changed its password; prints a token
  local u=$1 role=$2
  if ! "$BIN" --data-dir "$DIR" user create --username "$u" --roles "$role" --unit root \
      --password 'Bench-full-2026' >/dev/null 2>&1; then
    "$BIN" --data-dir "$DIR" user reset-password --username "$u" --password 'Bench-full-2026' >/dev/null
  fi
  login() { curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$u\",\"password\":\"$1\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
  local token
  token="$(login 'Bench-full-2026')"
  curl -sf -X POST "$BASE/api/v1/me/password" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"old_password":"Bench-full-2026","new_password":"Bench-full-2027!"}' >/dev/null || true
  login 'Bench-full-2027!' || login 'Bench-full-2026'
}
AGENT="$(user bench.agent2 agent)"
DISPATCHER="$(user bench.dispatcher dispatcher)"
SUPERVISOR="$(user bench.supervisor2 supervisor)"
rss() { awk -v k="$1:" '$1 == k { printf "%.0f MB", $2 / 1024 }' "/proc/$SERVER/status"; }
echo "== first page of open orders (GET /api/v1/orders?open=true&limit=50), dispatcher, 32 connections"
wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $DISPATCHER" "$BASE/api/v1/orders?open=true&limit=50" \
  | grep -E "50%|99%|Requests/sec|Non-2xx"
echo "== 500 open connections (GET /api/v1/me): RSS before $(rss VmRSS)"
wrk -t2 -c500 -d"${SECS}s" --latency -H "Authorization: Bearer $DISPATCHER" "$BASE/api/v1/me" > "$WORK/wrk500.txt" &
WRK=$!
sleep $((SECS / 2))
echo "   during: $(rss VmRSS)"
wait $WRK
grep -E "50%|99%|Requests/sec|Non-2xx|Socket errors" "$WORK/wrk500.txt"
echo "   peak (VmHWM) over the run so far: $(rss VmHWM)"
if [ -f "$DIR/waterdesk.db" ] && [ -z "${WATERDESK_DATABASE_URL:-}" ]; then
  # The screen pop an agent gets when a call rings: customers by the caller's number with
  # their arrears, and the caller's recent contacts — for customers' phones and for
  # callers from the contact history (half each, 2,000 sampled).
  python3 - "$DIR/waterdesk.db" "$WORK/pop.txt" <<'PY'
import random, sqlite3, sys, urllib.parse
c = sqlite3.connect(sys.argv[1])
random.seed(11)
phones = []
n = c.execute("SELECT MAX(id) FROM customer_phones").fetchone()[0] or 0
for _ in range(1000 if n else 0):
    r = c.execute("SELECT phone FROM customer_phones WHERE id >= ? LIMIT 1", (random.randint(1, n),)).fetchone()
    if r: phones.append(r[0])
m = c.execute("SELECT MAX(id) FROM contacts").fetchone()[0] or 0
for _ in range(1000 if m else 0):
    r = c.execute("SELECT caller FROM contacts WHERE id >= ? AND caller <> '' LIMIT 1", (random.randint(1, m),)).fetchone()
    if r: phones.append(r[0])
open(sys.argv[2], "w").write("".join(f"/api/v1/cti/pop?caller={urllib.parse.quote(p)}\n" for p in phones))
PY
  for conns in 1 32; do
    echo "== screen pop (GET /api/v1/cti/pop?caller=…), agent, $conns connection(s)"
    PATHS_FILE="$WORK/pop.txt" wrk -t1 -c"$conns" -d"${SECS}s" --latency -s benches/paths.lua \
      -H "Authorization: Bearer $AGENT" "$BASE" | grep -E "50%|99%|Requests/sec|Non-2xx"
  done
fi
echo "== supervisor dashboard (GET /api/v1/stats/dashboard), one at a time: first, then cached"
for _ in 1 2 3; do
  curl -s -o /dev/null -w '%{http_code} %{time_total} s\n' -H "Authorization: Bearer $SUPERVISOR" "$BASE/api/v1/stats/dashboard"
done
