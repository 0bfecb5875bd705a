#!/usr/bin/env bash
# HTTP load benchmark: sign-in and authenticated GETs under 32 concurrent clients.
#   benches/load.sh [sqlite|postgres] [seconds]
# Needs: a release build (cargo build --release), wrk (Debian package `wrk`), curl;
# for postgres, WATERDESK_BENCH_POSTGRES_URL pointing at an empty database.
# Load comes from the same machine (loopback), so client and server share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND="${1:-sqlite}"
SECS="${2:-20}"
BIN="${CARGO_TARGET_DIR:-target}/release/waterdesk"
PORT=18090
BASE="http://127.0.0.1:$PORT"
DIR="$(mktemp -d)"
export WATERDESK_LOG__LEVEL=warn
if [ "$BACKEND" = postgres ]; then
  export WATERDESK_DATABASE_URL="${WATERDESK_BENCH_POSTGRES_URL:?set WATERDESK_BENCH_POSTGRES_URL to an empty database}"
fi
"$BIN" --data-dir "$DIR" serve --demo --bind "127.0.0.1:$PORT" > "$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
PASSWORD="$(awk '$1=="agent"{print $2}' "$DIR/demo-logins.txt")"
export WD_USER=agent WD_PASSWORD="$PASSWORD"
TOKEN="$(curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"agent\",\"password\":\"$PASSWORD\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/')"
echo "== $BACKEND, 32 connections, ${SECS}s each, $(nproc) cores shared by wrk and the server"
echo "-- POST /api/v1/auth/login (argon2id verify per request)"
wrk -t2 -c32 -d"${SECS}s" --latency -s benches/login.lua "$BASE/api/v1/auth/login"
echo "-- GET /api/v1/me (bearer token)"
wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me"
echo "-- GET /api/v1/dicts/category/items (bearer token)"
wrk -t2 -c32 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/dicts/category/items"
grep -i "error\|panic" "$DIR/server.log" | head -5 || true
