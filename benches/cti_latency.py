#!/usr/bin/env python3
"""CTI ringing → SSE delivery latency (issue 4, R-CALL-03).

Opens the agent's event stream, sends signed `ringing` events one after another (each
with a new call id, at the given rate) and measures, per event, the time from sending the
HTTP request to reading the matching `cti.ringing` event from the stream.

    cti_latency.py BASE_URL TOKEN SECRET EXTENSION [events] [per_second]
"""
import hashlib, hmac, http.client, json, sys, threading, time, urllib.parse

base, token, secret, ext = sys.argv[1:5]
count = int(sys.argv[5]) if len(sys.argv) > 5 else 300
rate = float(sys.argv[6]) if len(sys.argv) > 6 else 20.0
u = urllib.parse.urlparse(base)
sent, got = {}, {}
ready = threading.Event()

def reader():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("GET", "/api/v1/events/stream", headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    ready.set()
    data = ""
    while len(got) < count:
        line = r.fp.readline().decode()
        if not line:
            break
        if line.startswith("data:"):
            ev = json.loads(line[5:])
            cid = ev.get("payload", {}).get("call_id")
            if ev.get("kind") == "cti.ringing" and cid in sent and cid not in got:
                got[cid] = time.perf_counter()

t = threading.Thread(target=reader, daemon=True)
t.start()
ready.wait(10)
time.sleep(0.3)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
run = str(int(time.time()))
for i in range(count):
    cid = f"lat-{run}-{i}"
    body = json.dumps({"event": "ringing", "call_id": cid, "caller": "13957123456", "extension": ext}).encode()
    ts = str(int(time.time()))
    sig = hmac.new(secret.encode(), (ts + ".").encode() + body, hashlib.sha256).hexdigest()
    sent[cid] = time.perf_counter()
    conn.request("POST", "/api/v1/cti/events", body=body, headers={
        "content-type": "application/json", "x-waterdesk-timestamp": ts, "x-waterdesk-signature": "sha256=" + sig})
    resp = conn.getresponse(); resp.read()
    if resp.status != 200:
        sys.exit(f"event {i}: HTTP {resp.status}")
    time.sleep(max(0.0, 1.0 / rate - 0.001))
deadline = time.time() + 10
while len(got) < count and time.time() < deadline:
    time.sleep(0.05)
lat = sorted((got[c] - sent[c]) * 1000 for c in got)
if not lat:
    sys.exit("no events received")
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"ringing → SSE: {len(lat)}/{count} delivered, p50 {pct(0.5):.1f} ms, p90 {pct(0.9):.1f} ms, "
      f"p99 {pct(0.99):.1f} ms, max {lat[-1]:.1f} ms")
