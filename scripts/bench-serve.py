#!/usr/bin/env python3
"""Replays a `vigie demo` into a fresh `vigie serve` over `_bulk`, as
Winlogbeat sends (1,600 documents per request, `create` actions, gzip,
several senders, 429 + Retry-After honoured), and prints one JSON object:
events, seconds until every event was acknowledged (`ack_s`) and judged
(`done_s`), events/s, 429s, detections, receipt-to-detection delay p50/p99
(from each detection's `received` and `detected`), RSS in the first and
last thirds of the run and the peak (VmHWM), disk of the event log per
million events, and the bytes of the state beside it (`state.db` and its
WAL after the server stopped, or the former JSON Lines files). What the live scope holds at the end (`vigie_scope_facts` of `/metrics`)
and the allocator's heap (`vigie_heap_*`), and what its horizon forgot
(`vigie_scope_evicted_total`).

    target/release/vigie demo --scale week --quiet --dir /tmp/week
    python3 scripts/bench-serve.py target/release/vigie /tmp/week/scenario/logs /tmp/bench-serve-data [SENDERS] [--rate EVENTS_PER_S] [--via bulk|ndjson-tcp|syslog-tcp] [--order file|time] [--weeks N]

--rate holds the senders to that many events per second in all (the
issue's p99 target is at 20,000 events/s); --via sends over `_bulk`
(default), over the JSON Lines TCP listener (NXLog om_tcp), or over the
syslog TCP listener (RFC 6587 octet counting, each event one message).
--order: each file whole, one after another (default: a host's week, then
the next), or every file's lines interleaved by event time (`time`: as a
live week arrives, what the live scope's horizon is measured on).
Over TCP nothing is acknowledged: `ack_s` is when the last byte was sent.
--quiet-after-first TIMELINE (with --weeks): the copies after the first
leave out every event `hunt` detected (the `source_file` and
`source_locator` of TIMELINE, from `vigie hunt LOGS -o TIMELINE`; how many
lines were left out is printed, `quiet_after_first_left_out`): the
same hosts' traffic without the attack, to tell what the live scope holds
for the events (flat once its horizon is reached) from what it holds for
detections (kept for their incidents).
--weeks N replays the logs N times, the k-th copy 7×k days later (every
`YYYY-MM-DD` followed by a time, in any field, moved by whole days) with
its `EventRecordID`s moved past the first copy's (+100,000,000 × k): a run
longer than the live scope's horizon, to see whether memory levels off
once the horizon is reached (the same hosts, accounts and rules each
week; what still grows then grows with events). Heap in use is
printed per tenth of the run (any run of 10 s or more: sampled each second) (`heap_in_use_by_tenth_mib`), with the
resident size averaged over each tenth (`rss_by_tenth_mib`) and what the live
scope holds and has forgotten at the end of each (`scope_facts_by_tenth`,
`scope_evicted_by_tenth`).

Python 3 standard library only. The data directory is emptied first.
"""
import gzip, http.client, json, os, subprocess, sys, threading, time, glob, statistics, re, shutil
import argparse, socket
ap = argparse.ArgumentParser()
ap.add_argument("vigie"); ap.add_argument("logs"); ap.add_argument("data")
ap.add_argument("senders", nargs="?", type=int, default=2)
ap.add_argument("--rate", type=float, default=0)
ap.add_argument("--via", choices=["bulk", "ndjson-tcp", "syslog-tcp"], default="bulk")
ap.add_argument("--order", choices=["file", "time"], default="file")
ap.add_argument("--weeks", type=int, default=1)
ap.add_argument("--quiet-after-first", metavar="TIMELINE")
args = ap.parse_args()
VIGIE, LOGS, DATA, SENDERS, RATE, VIA = args.vigie, args.logs, args.data, args.senders, args.rate, args.via
shutil.rmtree(DATA, ignore_errors=True)
tok = subprocess.run([VIGIE, "token", "create", "--data", DATA, "--scope", "admin"], capture_output=True, text=True, check=True).stdout.strip()
listener = [] if VIA == "bulk" else ["--" + VIA, "127.0.0.1:0"]
srv = subprocess.Popen([VIGIE, "serve", "--data", DATA, "--listen", "127.0.0.1:0", "--retention-gb", "0", "--retention-days", "0"] + listener, stderr=subprocess.PIPE, text=True)
base = None; tcp_at = None
while base is None:
    line = srv.stderr.readline()
    m = re.match(r"vigie serve: (?:syslog|NDJSON) TCP on (.*)", line)
    if m: tcp_at = m.group(1)
    m = re.match(r"vigie serve: listening on http://(.*)", line)
    if m: base = m.group(1)
threading.Thread(target=lambda: [None for _ in srv.stderr], daemon=True).start()
if os.environ.get("BENCH_PERF"):
    # A profile of the server while the week is replayed (perf record -g).
    subprocess.Popen(["perf", "record", *os.environ.get("BENCH_PERF_ARGS", "-g").split(), "-o", os.environ["BENCH_PERF"], "-p", str(srv.pid)],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
host, port = base.split(":")
def req(method, path, body=None, headers={}):
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    h = {"Authorization": "Bearer " + tok}; h.update(headers)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse(); d = r.read(); c.close()
    return r.status, d, r.getheader("Retry-After")
files = sorted(glob.glob(os.path.join(LOGS, "**", "*.jsonl"), recursive=True))
chunks = []
import datetime as _dt
DATE = re.compile(rb'(\d{4}-\d\d-\d\d)(?=[T ]\d\d:\d\d)')
RECORD = re.compile(rb'"EventRecordID":(\d+)')
def shifted(lines, k):
    """The k-th week's copy of `lines` (see --weeks)."""
    if k == 0:
        return lines
    days = {}
    def day(m):
        d = m.group(1)
        if d not in days:
            days[d] = (_dt.date.fromisoformat(d.decode()) + _dt.timedelta(days=7 * k)).isoformat().encode()
        return days[d]
    rec = lambda m: b'"EventRecordID":' + str(int(m.group(1)) + 100_000_000 * k).encode()
    return [RECORD.sub(rec, DATE.sub(day, l)) for l in lines]
# --quiet-after-first: the (file, line) of every event `hunt` detected.
detected = set()
if args.quiet_after_first:
    for l in open(args.quiet_after_first):
        d = json.loads(l)
        m = re.match(r"line=(\d+)", d.get("source_locator") or "")
        if m:
            detected.add((os.path.realpath(d["source_file"]), int(m.group(1))))
left_out = [0]
def by_file():
    for k in range(args.weeks):
        for f in files:
            with open(f, "rb") as fh:
                lines = fh.read().split(b"\n")
            if k and detected:
                real = os.path.realpath(f)
                kept = [l for n, l in enumerate(lines, 1) if (real, n) not in detected]
                left_out[0] += len(lines) - len(kept)
                lines = kept
            yield shifted([l for l in lines if l.strip()], k)
def by_time():
    # Every host's channels interleaved by event time, as a live week
    # arrives (a line without `SystemTime` keeps its file's place).
    stamp = re.compile(rb'"SystemTime":"([^"]+)"')
    keyed = []
    for n, lines in enumerate(by_file()):
        last = b""
        for l in lines:
            m = stamp.search(l)
            if m: last = m.group(1)
            keyed.append((last, n, l))
    keyed.sort(key=lambda k: (k[0], k[1]))
    yield [l for _, _, l in keyed]
for lines in (by_time() if args.order == "time" else by_file()):
    for i in range(0, len(lines), 1600):
        chunks.append(lines[i:i+1600])
total = sum(len(c) for c in chunks)
if detected and args.weeks > 1 and left_out[0] == 0:
    raise SystemExit("--quiet-after-first: no line of the logs is one the timeline names (its source_file paths must be these files)")
if VIA == "bulk":
    bodies = [gzip.compress(b"".join(b'{"create":{}}\n' + l + b"\n" for l in c), 1) for c in chunks]
elif VIA == "ndjson-tcp":
    bodies = [b"".join(l + b"\n" for l in c) for c in chunks]
else:
    bodies = [b"".join(str(len(l)).encode() + b" " + l for l in c) for c in chunks]
counts = [len(c) for c in chunks]
sent = [0]
rss = []; stop = False
# (heap in use MiB, process creations held, correlation events held) from
# /metrics every second: what grows, and whether the live scope does.
held_samples = []
def sample():
    while not stop:
        try:
            for l in open(f"/proc/{srv.pid}/status"):
                if l.startswith("VmRSS"): rss.append(int(l.split()[1]))
        except Exception: pass
        try:
            _, m, _ = req("GET", "/metrics"); m = m.decode()
            g = lambda pat: int(re.search(pat, m).group(1)) if re.search(pat, m) else 0
            held_samples.append((g(r'vigie_heap_in_use_bytes (\d+)') / 2**20,
                g(r'vigie_scope_facts\{kind="process_creations"\} (\d+)'),
                g(r'vigie_scope_facts\{kind="correlation_events"\} (\d+)'),
                rss[-1] / 1024 if rss else 0,
                {k: int(v) for k, v in re.findall(r'vigie_scope_facts\{kind="([a-z_]+)"\} (\d+)', m)},
                {k: int(v) for k, v in re.findall(r'vigie_scope_evicted_total\{kind="([a-z_]+)"\} (\d+)', m)}))
        except Exception: pass
        time.sleep(1)
threading.Thread(target=sample, daemon=True).start()
lock = threading.Lock(); idx = [0]; busy = [0]
def pace(n):
    """Waits until sending n more events keeps to --rate."""
    if RATE <= 0: return
    with lock:
        due = t0 + sent[0] / RATE; sent[0] += n
    wait = due - time.time()
    if wait > 0: time.sleep(wait)
def sender():
    conn = None
    if VIA != "bulk":
        h, p = tcp_at.rsplit(":", 1)
        conn = socket.create_connection((h, int(p)))
    while True:
        with lock:
            if idx[0] >= len(bodies):
                if conn: conn.close()
                return
            i = idx[0]; idx[0] += 1
        b = bodies[i]
        pace(counts[i])
        if conn:
            conn.sendall(b); continue
        while True:
            s, d, ra = req("POST", "/_bulk", b, {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
            if s == 200: break
            if s in (429, 503): busy[0] += 1; time.sleep(float(ra or 1)); continue
            raise SystemExit(f"bulk {s} {d[:200]}")
t0 = time.time()
ts = [threading.Thread(target=sender) for _ in range(SENDERS)]
[t.start() for t in ts]; [t.join() for t in ts]
t_ack = time.time() - t0
while True:
    s, d, _ = req("GET", "/api/v1/stats")
    st = json.loads(d)
    if st["events_stored"] >= total and st["events_processed"] >= st["events_stored"]: break
    time.sleep(0.5)
t_done = time.time() - t0
# The server's CPU time (user + system) once every event is judged: unlike
# wall time, robust to other work sharing the cores.
def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
cpu_done = cpu_s(srv.pid)
stop = True
hwm = [l for l in open(f"/proc/{srv.pid}/status") if l.startswith("VmHWM")][0].split()[1]
delays = []
def stored_detections():
    # state.db (SQLite, read-only) since the embedded state moved there;
    # detections.jsonl before.
    db = os.path.join(DATA, "state.db")
    if os.path.exists(db):
        import sqlite3
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        for (doc,) in c.execute("SELECT doc FROM detections ORDER BY seq"):
            yield doc
        c.close()
    else:
        yield from open(os.path.join(DATA, "detections.jsonl"))
for l in stored_detections():
    d = json.loads(l)
    if d.get("received") and d.get("detected"):
        from datetime import datetime
        r = datetime.fromisoformat(d["received"].replace("Z", "+00:00")); x = datetime.fromisoformat(d["detected"].replace("Z", "+00:00"))
        delays.append((x - r).total_seconds())
delays.sort()
du = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(DATA, "events")) for f in fs)
_, m, _ = req("GET", "/metrics")
heap = {mm.group(1): round(int(mm.group(2))/2**20) for mm in re.finditer(r'vigie_heap_(in_use|free)_bytes (\d+)', m.decode())}
rss_end = round(int([l for l in open(f"/proc/{srv.pid}/status") if l.startswith("VmRSS")][0].split()[1])/1024)
facts = {mm.group(1): int(mm.group(2)) for mm in re.finditer(r'vigie_scope_facts\{kind="([a-z_]+)"\} (\d+)', m.decode())}
srv.terminate(); srv.wait()
# The state beside the log: state.db with its WAL, or the former files.
state_bytes = sum(os.path.getsize(os.path.join(DATA, f)) for f in os.listdir(DATA)
                  if f.startswith("state.db") or f.endswith(".jsonl"))
third = max(1, len(rss)//3)
h3 = max(1, len(held_samples)//3)
def thirds(i):
    v = [h[i] for h in held_samples]
    return [round(statistics.mean(v[:h3])), round(statistics.mean(v[-h3:]))] if v else None
def tenths(f):
    # What each tenth of the run ends with (or averages): what grows.
    if len(held_samples) < 10: return None
    v = held_samples
    return [f(v[i*len(v)//10:(i+1)*len(v)//10]) for i in range(10)]
print(json.dumps({"via": VIA, "rate": RATE or None, "events": total, "stored": st["events_stored"], "ack_s": round(t_ack,1), "done_s": round(t_done,1),
  "events_per_s_ack": round(total/t_ack), "events_per_s_judged": round(total/t_done),
  "cpu_s": round(cpu_done, 1), "cpu_s_per_million": round(cpu_done/(total/1e6), 2), "busy_429": busy[0],
  "detections": st["detections"], "p50_s": delays[len(delays)//2] if delays else None, "p99_s": delays[int(len(delays)*0.99)] if delays else None,
  "rss_first_third_mib": round(statistics.mean(rss[:third])/1024), "rss_last_third_mib": round(statistics.mean(rss[-third:])/1024),
  "vmhwm_mib": round(int(hwm)/1024), "disk_bytes": du, "disk_mb_per_million": round(du/1e6/(total/1e6),1),
  "state_bytes": state_bytes, "rss_end_mib": rss_end, "heap_mib": heap, "order": args.order,
  "heap_in_use_first_last_third_mib": thirds(0), "process_creations_first_last_third": thirds(1),
  "correlation_events_first_last_third": thirds(2), "scope_facts": facts, "weeks": args.weeks, "quiet_after_first_left_out": left_out[0],
  "heap_in_use_by_tenth_mib": [round(statistics.mean(c)) for c in (lambda v: [v[i*len(v)//10:(i+1)*len(v)//10] for i in range(10)])([h[0] for h in held_samples]) if c] if len(held_samples) >= 10 else None,
  "rss_by_tenth_mib": tenths(lambda c: round(statistics.mean(h[3] for h in c))),
  "scope_facts_by_tenth": tenths(lambda c: c[-1][4]), "scope_evicted_by_tenth": tenths(lambda c: c[-1][5]),
  "scope_evicted": {mm.group(1): int(mm.group(2)) for mm in re.finditer(r'vigie_scope_evicted_total\{kind="([a-z_]+)"\} (\d+)', m.decode())}}, indent=1))
