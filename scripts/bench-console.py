#!/usr/bin/env python3
"""How long the console's pages take with a demo stored, as a person's
browser asks for them (signed in with a password and a TOTP code, the
session cookie): every page fetched N times, one after the other; prints
one JSON object with the events and detections stored and, per page, the
median, 95th percentile and maximum time to the last byte (ms) and the
size. Issue 13's target: under 300 ms with the demo's week scale stored.

    target/release/vigie demo --scale week --quiet --dir /tmp/week
    python3 scripts/bench-console.py target/release/vigie /tmp/week/scenario/logs /tmp/bench-console-data [N]

The data directory is emptied first; the logs are sent over
/api/v1/ingest in 5,000-line requests and the pages measured once the
worker committed them all and the live scope answered. Python 3 standard
library only.
"""
import base64, hashlib, hmac, http.client, json, os, re, shutil, statistics, struct, subprocess, sys, threading, time, glob, urllib.parse

VIGIE, LOGS, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 20
shutil.rmtree(DATA, ignore_errors=True)
PASSWORD = "banc d'essai de la console"
uri = subprocess.run([VIGIE, "user", "add", "bench", "--role", "admin", "--data", DATA],
                     input=PASSWORD + "\n", capture_output=True, text=True, check=True).stdout.strip()
secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
tok = subprocess.run([VIGIE, "token", "create", "--data", DATA, "--scope", "admin"],
                     capture_output=True, text=True, check=True).stdout.strip()
srv = subprocess.Popen([VIGIE, "serve", "--data", DATA, "--listen", "127.0.0.1:0",
                        "--retention-gb", "0", "--retention-days", "0"], stderr=subprocess.PIPE, text=True)
base = None
while base is None:
    m = re.match(r"vigie serve: listening on http://(.*)", srv.stderr.readline())
    if m:
        base = m.group(1)
threading.Thread(target=lambda: [None for _ in srv.stderr], daemon=True).start()
host, port = base.split(":")


def req(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    d = r.read()
    c.close()
    return r.status, d, r


auth = {"Authorization": "Bearer " + tok}
sent = 0
t0 = time.time()
for f in sorted(glob.glob(os.path.join(LOGS, "**", "*.jsonl"), recursive=True)):
    with open(f, "rb") as fh:
        lines = [l for l in fh.read().split(b"\n") if l.strip()]
    for i in range(0, len(lines), 5000):
        while True:
            s, d, r = req("POST", "/api/v1/ingest", b"\n".join(lines[i:i + 5000]), auth)
            if s == 200:
                sent += json.loads(d)["accepted"]
                break
            if s in (429, 503):
                time.sleep(float(r.getheader("Retry-After") or 1))
                continue
            raise SystemExit(f"ingest {s} {d[:200]}")
while True:
    st = json.loads(req("GET", "/api/v1/stats", None, auth)[1])
    if (st.get("events_committed") or 0) >= sent:
        break
    time.sleep(1)
ingest_s = time.time() - t0
while req("GET", "/api/v1/incidents", None, auth)[0] != 200:
    time.sleep(1)


def totp():
    k = base64.b32decode(secret + "=" * (-len(secret) % 8))
    h = hmac.new(k, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


s, page, r = req("GET", "/login")
form_cookie = re.search(r"vigie_login=([^;]+)", r.getheader("Set-Cookie")).group(1)
csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
body = urllib.parse.urlencode({"csrf": csrf, "name": "bench", "password": PASSWORD, "code": totp()})
s, _, r = req("POST", "/login", body, {"Cookie": "vigie_login=" + form_cookie,
                                       "Content-Type": "application/x-www-form-urlencoded"})
assert s == 303, s
session = {"Cookie": "vigie_session=" + re.search(r"vigie_session=([^;]+)", r.getheader("Set-Cookie")).group(1),
           "Accept": "text/html"}
incidents = json.loads(req("GET", "/api/v1/incidents", None, auth)[1])
detections = json.loads(req("GET", "/api/v1/detections?limit=10000", None, auth)[1])
one = next(d for d in reversed(detections) if d["kind"] == "detection")
host_name = one["computer"].split(".")[0]
pages = {
    "incidents": "/incidents",
    "incidents_table": "/incidents/table",
    "incident": "/incidents/" + incidents[0]["live_id"],
    "detection": "/detections/" + one["id"],
    "detections_json": "/api/v1/detections?limit=500",
    "filters": "/filters",
    "rules": "/rules",
    "rules_search": "/rules?q=process_creation",
    "sources": "/sources",
    "audit": "/audit",
    "home": "/",
    "search_one_host_one_hour": "/search?" + urllib.parse.urlencode({
        "q": "EventID:4688", "host": host_name,
        "from": one["time"][:13].replace("T", " ") + ":00", "to": one["time"][:13].replace("T", " ") + ":59"}),
}
out = {"events": sent, "detections": len([d for d in detections if d["kind"] != "correlation"]),
       "incidents": len(incidents), "ingest_and_judge_s": round(ingest_s, 1), "runs": N, "pages": {}}
for name, path in pages.items():
    times, size = [], 0
    for _ in range(N):
        t = time.perf_counter()
        s, d, _ = req("GET", path, None, session)
        times.append((time.perf_counter() - t) * 1000)
        assert s == 200, (path, s, d[:200])
        size = len(d)
    times.sort()
    out["pages"][name] = {"path": path, "median_ms": round(statistics.median(times), 1),
                          "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                          "max_ms": round(times[-1], 1), "bytes": size}
srv.terminate()
srv.wait()
print(json.dumps(out, indent=1))
