#!/usr/bin/env bash
# Call subsystem benchmark (issue 4, DESIGN §7): contact registration over REST with 32
# concurrent clients (each request allocates a 热线编号 and writes the contact and its
# audit entry in one transaction), and CTI ringing → SSE delivery latency.
#   benches/contacts.sh [sqlite|postgres] [seconds] [DATA_DIR]
# Needs a release build, wrk, curl and python3; for postgres WATERDESK_BENCH_POSTGRES_URL
# (an empty database, or one prepared by `waterdesk seed`). With DATA_DIR the SQLite
# database there is used (e.g. one seeded with a million customers).
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
SECS="${2:-20}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/waterdesk}"
PORT=18095
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
DIR="${3:-$WORK/data}"
mkdir -p "$DIR"
export WATERDESK_LOG__LEVEL=warn
export WATERDESK_CTI__SECRET="bench-secret-$$"
if [ "$BACKEND" = postgres ]; then
  export WATERDESK_DATABASE_URL="${WATERDESK_BENCH_POSTGRES_URL:?set WATERDESK_BENCH_POSTGRES_URL}"
fi
"$BIN" --data-dir "$DIR" serve --demo --bind "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; cp $WORK/server.log /tmp/last-server.log; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
if ! "$BIN" --data-dir "$DIR" user create --username bench.agent --roles agent --unit root --password 'Bench-agent-2026' >/dev/null 2>&1; then
  "$BIN" --data-dir "$DIR" user reset-password --username bench.agent --password 'Bench-agent-2026' >/dev/null
fi
login() { curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"username\":\"bench.agent\",\"password\":\"$1\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
TOKEN="$(login 'Bench-agent-2026')"
curl -sf -X POST "$BASE/api/v1/me/password" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"old_password":"Bench-agent-2026","new_password":"Bench-agent-2027!"}' >/dev/null || true
TOKEN="$(login 'Bench-agent-2027!' || login 'Bench-agent-2026')"
echo "== $BACKEND, $(nproc) cores shared by the load generator and the server"
echo "-- POST /api/v1/contacts, 32 connections, ${SECS}s"
WD_TOKEN="$TOKEN" wrk -t2 -c32 -d"${SECS}s" --latency -s "${CONTACT_LUA:-benches/contact.lua}" "$BASE/api/v1/contacts"
curl -sf -X PUT "$BASE/api/v1/agent/extension" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"extension":"9001"}' >/dev/null
echo "-- CTI ringing → SSE, 300 events at 20/s, idle server"
python3 benches/cti_latency.py "$BASE" "$TOKEN" "$WATERDESK_CTI__SECRET" 9001 300 20
echo "-- CTI ringing → SSE, 300 events at 20/s, while 32 clients register contacts"
WD_TOKEN="$TOKEN" wrk -t1 -c32 -d25s -s benches/contact.lua "$BASE/api/v1/contacts" > "$WORK/wrk2.log" 2>&1 &
LOAD=$!
sleep 2
python3 benches/cti_latency.py "$BASE" "$TOKEN" "$WATERDESK_CTI__SECRET" 9001 300 20
wait "$LOAD"
grep -i "panic\| ERROR" "$WORK/server.log" | head -5 || true
