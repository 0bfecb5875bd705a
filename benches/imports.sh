#!/usr/bin/env bash
# Import throughput (issue 3, R-CUS-03): a file of N new customers (account + meter), then
# N readings (each bills its month), N payments, and the customers file again (every row
# unchanged). Each file goes through POST /api/v1/imports/{kind} in one request; the time
# is curl's, so it includes upload, parsing, checking and the transaction(s).
#   benches/imports.sh DIR [rows]        # DIR: data directory (empty, or a seeded one)
# Needs curl, python3 and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:?data directory}"
ROWS="${2:-100000}"
BIN="${CARGO_TARGET_DIR:-target}/release/waterdesk"
PORT=18094
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
mkdir -p "$DIR"
export WATERDESK_LOG__LEVEL=warn
export WATERDESK_SERVER__MAX_IMPORT_BYTES=$((256 * 1024 * 1024))
"$BIN" --data-dir "$DIR" serve --bind "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; tail -5 "$WORK/server.log"; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
if ! "$BIN" --data-dir "$DIR" user create --username bench.admin --roles admin --unit root --password 'Bench-admin-2026' >/dev/null 2>&1; then
  "$BIN" --data-dir "$DIR" user reset-password --username bench.admin --password 'Bench-admin-2026' >/dev/null
fi
login() { curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' -d "{\"username\":\"bench.admin\",\"password\":\"$1\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'; }
TOKEN="$(login 'Bench-admin-2026')"
curl -sf -X POST "$BASE/api/v1/me/password" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"old_password":"Bench-admin-2026","new_password":"Bench-admin-2027!"}' >/dev/null || true
TOKEN="$(login 'Bench-admin-2027!' || login 'Bench-admin-2026')"
TAG="$(date +%s | tail -c 6)"
python3 - "$WORK" "$ROWS" "$TAG" <<'PY'
import random, sys
out, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(int(tag))
sur = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
giv = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
roads = ["文三路", "文二路", "莫干山路", "江南大道", "解放路", "延安路", "天目山路", "学院路"]
with open(f"{out}/customers.csv", "w") as f:
    f.write("户号,户名,电话,用水地址,用水类别,人口,册本号,表号,口径,装表日期\n")
    for i in range(n):
        name = random.choice(sur) + random.choice(giv) + random.choice(giv)
        f.write(f"B{tag}{i:07d},{name},13{random.randint(0, 999999999):09d},杭州市{random.choice(roads)}{random.randint(1, 999)}号{random.randint(1, 30)}幢,居民,{random.randint(1, 6)},B{i // 500:04d},BM{tag}{i:07d},20,2025-12-01\n")
with open(f"{out}/atomic.csv", "w") as f:
    f.write("户号,户名,电话,用水地址\n")
    for i in range(15000):
        f.write(f"A{tag}{i:07d},{random.choice(sur)}{random.choice(giv)},13{random.randint(0, 999999999):09d},杭州市{random.choice(roads)}{random.randint(1, 999)}号\n")
with open(f"{out}/readings.csv", "w") as f:
    f.write("户号,表号,抄表日期,本次读数\n")
    for i in range(n):
        f.write(f"B{tag}{i:07d},BM{tag}{i:07d},2026-01-05,{random.randint(3, 40)}\n")
with open(f"{out}/payments.csv", "w") as f:
    f.write("户号,金额,交易流水号,缴费渠道,缴费时间\n")
    for i in range(n):
        f.write(f"B{tag}{i:07d},{random.randint(10, 200)}.00,BP{tag}{i:07d},微信,2026-01-20 10:00:00\n")
PY
run() { # kind file mode label — in the background (as the UI does), polled until done
  local start id
  start=$(date +%s.%N)
  id=$(curl -sS -X POST "$BASE/api/v1/imports/$1?mode=$3&background=true&file_name=$2" \
    -H "authorization: Bearer $TOKEN" -H 'content-type: text/csv' --data-binary @"$WORK/$2" | sed -E 's/^\{"id":([0-9]+).*/\1/')
  while curl -sS "$BASE/api/v1/imports/runs/$id" -H "authorization: Bearer $TOKEN" -o "$WORK/out.json" \
    && grep -q '"status":"running"' "$WORK/out.json"; do sleep 0.2; done
  python3 - "$WORK/out.json" "$(echo "$(date +%s.%N) - $start" | bc)" "$4" "$(stat -c %s "$WORK/$2")" <<'PY'
import json, sys
run = json.load(open(sys.argv[1])); t = float(sys.argv[2])
r = run.get("report") or {}
if "rows" not in r: sys.exit(f"failed: {run}")
print(f"{sys.argv[3]:<28} {r['rows']:>7} rows {int(sys.argv[4])/1e6:6.1f} MB  {t:7.1f} s  {r['rows']/t:8.0f} rows/s"
      f"  created {r['created']} unchanged {r['unchanged']} errors {len(r['errors'])}")
PY
}
echo "import throughput, $ROWS rows per file, $(sqlite3 "$DIR/waterdesk.db" 'select count(*) from accounts' 2>/dev/null || echo '?') accounts before"
run customers customers.csv skip_bad_rows "customers (new)"
run readings readings.csv skip_bad_rows "readings (billed)"
run payments payments.csv skip_bad_rows "payments"
run customers customers.csv skip_bad_rows "customers again (unchanged)"
run customers atomic.csv all_or_nothing "15,000 new, all-or-nothing"
grep -E "VmHWM" /proc/$SERVER/status || true
