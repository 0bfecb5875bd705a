#!/usr/bin/env bash
# Data-support benchmark (issue 6, DESIGN §7): the service indicators over a seeded
# history, and the quick counts' latency.
#   benches/indicators.sh DATA_DIR [FROM] [TO]
# DATA_DIR holds a database made by `waterdesk seed --orders N --months M` (SQLite there,
# or PostgreSQL with WATERDESK_DATABASE_URL set as when seeding). FROM/TO: the month
# measured (default: the last full month). Needs a release build, curl and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:?DATA_DIR}"
FROM="${2:-$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m-%d)}"
TO="${3:-$(date -u +%Y-%m-01)}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/waterdesk}"
PORT="${PORT:-18098}"
BASE="http://127.0.0.1:$PORT"
export WATERDESK_LOG__LEVEL=warn
"$BIN" --data-dir "$DIR" serve --bind "127.0.0.1:$PORT" > /tmp/indicators-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
if ! "$BIN" --data-dir "$DIR" user create --username bench.supervisor --roles supervisor --unit root \
    --password 'Bench-super-2026' >/dev/null 2>&1; then
  "$BIN" --data-dir "$DIR" user reset-password --username bench.supervisor --password 'Bench-super-2026' >/dev/null
fi
login() { curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"username\":\"bench.supervisor\",\"password\":\"$1\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
TOKEN="$(login 'Bench-super-2026')"
curl -sf -X POST "$BASE/api/v1/me/password" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"old_password":"Bench-super-2026","new_password":"Bench-super-2027!"}' >/dev/null || true
TOKEN="$(login 'Bench-super-2027!' || login 'Bench-super-2026')"
time_get() { # label, query: five runs, one at a time
  local times=()
  for _ in 1 2 3 4 5; do
    times+=("$(curl -s -o /tmp/indicators-body.json -w '%{time_total}' -H "authorization: Bearer $TOKEN" "$BASE/api/v1/stats/indicators?$2")")
  done
  local registered
  registered="$(python3 -c "import json; r=json.load(open('/tmp/indicators-body.json')); print(sum(g['indicators']['registered'] for g in r), len(r))")"
  echo "$1: ${times[*]} s (orders, groups: $registered)"
}
echo "== $(nproc) cores; month $FROM .. $TO"
time_get "month by unit" "from=$FROM&to=$TO&group_by=unit"
time_get "month by unit,type" "from=$FROM&to=$TO&group_by=unit,type"
time_get "month by unit,day" "from=$FROM&to=$TO&group_by=unit,day"
time_get "month by category,channel,source" "from=$FROM&to=$TO&group_by=category,channel,source"
echo "-- GET /api/v1/stats/quick, 4 connections, 10s"
wrk -t1 -c4 -d10s --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/stats/quick" | grep -E "Latency|50%|99%|Requests/sec"
