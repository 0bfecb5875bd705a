#!/usr/bin/env bash
# Customer look-up benchmark on a seeded SQLite database (issue 3, DESIGN §7).
#   waterdesk --data-dir DIR seed --customers 1000000      # once, takes minutes
#   benches/customers.sh DIR [seconds]
# Samples real phones, names, address fragments and account ids from the database,
# then runs wrk (32 connections) against: phone look-up, last-4 look-up, name search,
# address search, and the account 360 view. Needs wrk, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:?data directory with a seeded waterdesk.db}"
SECS="${2:-20}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/waterdesk}"
PORT=18093
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
export WATERDESK_LOG__LEVEL=warn
"$BIN" --data-dir "$DIR" serve --bind "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
# A bench user (created once) with the agent role.
if ! "$BIN" --data-dir "$DIR" user create --username bench.agent --roles agent --unit root --password 'Bench-agent-2026' >/dev/null 2>&1; then
  "$BIN" --data-dir "$DIR" user reset-password --username bench.agent --password 'Bench-agent-2026' >/dev/null
fi
login() { curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"username\":\"bench.agent\",\"password\":\"$1\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
TOKEN="$(login 'Bench-agent-2026')"
# A freshly created or reset user must change the password first.
curl -sf -X POST "$BASE/api/v1/me/password" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"old_password":"Bench-agent-2026","new_password":"Bench-agent-2027!"}' >/dev/null || true
TOKEN="$(login 'Bench-agent-2027!' || login 'Bench-agent-2026')"
python3 - "$DIR/waterdesk.db" "$WORK" <<'PY'
import random, sqlite3, sys, urllib.parse
db, out = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db)
n = c.execute("select max(id) from customers").fetchone()[0]
random.seed(7)
ids = [random.randint(1, n) for _ in range(2000)]
def rows(sql):
    return [r for i in ids for r in c.execute(sql, (i,)).fetchall()]
q = lambda s: "/api/v1/customers?q=" + urllib.parse.quote(s)
phones = rows("select phone from customer_phones where customer_id = ?")
names = rows("select name from customers where id = ?")
addrs = rows("select address from accounts where holder_id = ?")
accts = rows("select id from accounts where holder_id = ?")
def write(name, paths):
    open(f"{out}/{name}.txt", "w").write("\n".join(paths) + "\n")
write("phone", [q(p) for (p,) in phones])
write("last4", [q(p[-4:]) for (p,) in phones])
write("name", [q(nm) for (nm,) in names])
# An agent types a road and a house number: "文三路12号".
import re
write("address", [q(re.sub(r"^(..区)?(.*?路\d+号).*$", r"\2", a)) for (a,) in addrs])
write("account360", [f"/api/v1/accounts/{a}" for (a,) in accts])
PY
echo "== $(python3 -c "import sqlite3;print(sqlite3.connect('$DIR/waterdesk.db').execute('select count(*) from customers').fetchone()[0])") customers, SQLite, 32 connections, ${SECS}s each, $(nproc) cores shared by wrk and the server"
for kind in phone last4 name address account360; do
  for conns in 1 32; do
    echo "-- $kind, $conns connection(s)"
    PATHS_FILE="$WORK/$kind.txt" wrk -t1 -c"$conns" -d"${SECS}s" --latency -s benches/paths.lua -H "Authorization: Bearer $TOKEN" "$BASE" \
      | grep -E "50%|90%|99%|Requests/sec|Non-2xx"
  done
done
