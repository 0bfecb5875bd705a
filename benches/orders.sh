#!/usr/bin/env bash
# Work-order benchmark (issue 5, DESIGN §7): order transitions per second under 32
# concurrent clients (each request accepts a different registered order: version check,
# workflow, update, event row, audit entry, one transaction), and the latency of dispatch
# suggestions with 1,000 crew members and 100,000 open orders.
#   benches/orders.sh [sqlite|postgres] [seconds]
# Needs a release build, wrk, curl and python3 (psycopg for postgres); for postgres
# WATERDESK_BENCH_POSTGRES_URL (an empty database; it is filled).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
SECS="${2:-20}"
BIN="${CARGO_TARGET_DIR:-target}/release/waterdesk"
PORT=18096
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
DIR="$WORK/data"
mkdir -p "$DIR"
export WATERDESK_LOG__LEVEL=warn
if [ "$BACKEND" = postgres ]; then
  export WATERDESK_DATABASE_URL="${WATERDESK_BENCH_POSTGRES_URL:?set WATERDESK_BENCH_POSTGRES_URL}"
  DB="$WATERDESK_DATABASE_URL"
else
  DB="sqlite:$DIR/waterdesk.db"
fi
start() {
  "$BIN" --data-dir "$DIR" serve --demo --bind "127.0.0.1:$PORT" >> "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 600); do curl -sf "$BASE/readyz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}
trap 'kill $SERVER 2>/dev/null || true; cp $WORK/server.log /tmp/last-server.log; rm -rf "$WORK"' EXIT
# First start: migrations and the demo; then the data set, with the server stopped.
start
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
SEED="$(python3 benches/seed_orders.py "$DB" --crews 1000 --open 100000 --closed 200000 --accept 50000)"
echo "$SEED"
FIRST="$(sed -E 's/.*first_registered=([0-9]+).*/\1/' <<<"$SEED")"
LAST="$(sed -E 's/.*last_registered=([0-9]+).*/\1/' <<<"$SEED")"
start
"$BIN" --data-dir "$DIR" user create --username bench.dispatcher --roles dispatcher --unit root --password 'Bench-dispatch-2026' >/dev/null
login() { curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"username\":\"bench.dispatcher\",\"password\":\"$1\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
TOKEN="$(login 'Bench-dispatch-2026')"
curl -sf -X POST "$BASE/api/v1/me/password" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"old_password":"Bench-dispatch-2026","new_password":"Bench-dispatch-2027!"}' >/dev/null
TOKEN="$(login 'Bench-dispatch-2027!')"
echo "== $BACKEND, $(nproc) cores shared by the load generator and the server"
echo "-- GET /api/v1/orders/{id}/suggestions (1,000 crews, 100,000 open orders), 1 connection, 15s"
WD_TOKEN="$TOKEN" wrk -t1 -c1 -d15s --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/orders/$LAST/suggestions?limit=10"
echo "-- the same, 32 connections, 15s"
wrk -t2 -c32 -d15s --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/orders/$LAST/suggestions?limit=10"
echo "-- GET /api/v1/orders?open=true&limit=50 (first page of open orders), 32 connections, 10s"
wrk -t2 -c32 -d10s --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/orders?open=true&limit=50"
echo "-- GET /api/v1/dispatch/board, 8 connections, 10s"
wrk -t2 -c8 -d10s --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/dispatch/board"
echo "-- POST /api/v1/orders/{id}/actions/accept (one order each), 32 connections, ${SECS}s"
WD_TOKEN="$TOKEN" WD_FIRST="$FIRST" WD_LAST="$LAST" WD_THREADS=2 wrk -t2 -c32 -d"${SECS}s" --latency -s benches/order_accept.lua "$BASE"
grep -i "panic\| ERROR" "$WORK/server.log" | head -5 || true
