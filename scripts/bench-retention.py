#!/usr/bin/env python3
"""Retention and the live scope's memory: `vigie serve` started on the data
of a bench (scripts/bench-serve.py), sampled every second for SECS seconds
(heap in use and RSS, detections and processes the live scope holds, its
rebuilds), then its scope and incidents saved; or two saved scopes compared
field by field.

    python3 scripts/bench-retention.py run VIGIE DATA OUT [SECS] -- [serve options]
    python3 scripts/bench-retention.py compare OUT_A OUT_B

`run` writes OUT.json (what serve said, the samples), OUT-scope.json and
OUT-incidents.json, and prints what serve said and a sample every 10 s.
`compare` prints each difference between OUT_A-scope.json and
OUT_B-scope.json, and the live ids of both, and exits 1 if they differ.

The measurement of docs/benchmarks.md ("Retention and the live scope:
rebuilt"), on the data a bench left (scripts/bench-serve.py ... --weeks 3),
its two oldest segments dated back while the server runs (retention's
first pass runs before the start's replay; a later one is what rebuilds):

    cp -a /tmp/bs-data-orig /tmp/bs-data
    printf 'retention_every = "10s"\n' > /tmp/ret.toml
    (sleep 90; touch -d '10 days ago' /tmp/bs-data/events/00000000000000000000.seg /tmp/bs-data/events/00000000000001148800.seg) &
    python3 scripts/bench-retention.py run target/release/vigie /tmp/bs-data /tmp/rebuilt 240 -- --config /tmp/ret.toml --retention-days 7 --retention-gb 0
    python3 scripts/bench-retention.py run target/release/vigie /tmp/bs-data /tmp/restarted 100 -- --config /tmp/ret.toml --retention-days 7 --retention-gb 0
    python3 scripts/bench-retention.py compare /tmp/rebuilt /tmp/restarted
"""
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request


def run(vigie, data, out, secs, extra):
    token = subprocess.run(
        [vigie, "token", "create", "--data", data, "--scope", "admin"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    server = subprocess.Popen(
        [vigie, "serve", "--data", data, "--listen", "127.0.0.1:0"] + extra,
        stderr=subprocess.PIPE, text=True,
    )
    said, base, t0 = [], [None], time.time()

    def read_stderr():
        for line in server.stderr:
            said.append((round(time.time() - t0, 1), line.rstrip()))
            m = re.match(r"vigie serve: listening on (\S+)", line)
            if m:
                base[0] = m.group(1)

    threading.Thread(target=read_stderr, daemon=True).start()
    while base[0] is None:
        if server.poll() is not None:
            sys.exit("serve ended: " + "\n".join(l for _, l in said))
        time.sleep(0.1)

    def get(path, timeout=30):
        r = urllib.request.Request(base[0] + path, headers={"Authorization": "Bearer " + token})
        return urllib.request.urlopen(r, timeout=timeout).read()

    def value(text, pattern):
        m = re.search(pattern, text)
        return int(m.group(1)) if m else None

    samples, end = [], time.time() + secs
    while time.time() < end:
        try:
            m = get("/metrics").decode()
            rss = next(int(l.split()[1]) for l in open(f"/proc/{server.pid}/status") if l.startswith("VmRSS"))
            heap = value(m, r"\nvigie_heap_in_use_bytes (\d+)")
            samples.append({
                "t": round(time.time() - t0, 1),
                "heap_mib": round(heap / 2**20, 1) if heap is not None else None,
                "rss_mib": rss // 1024,
                "detections_held": value(m, r'vigie_scope_facts\{kind="detections"\} (\d+)'),
                "processes_of_interest": value(m, r'vigie_scope_facts\{kind="processes_of_interest"\} (\d+)'),
                "rebuilds": value(m, r"\nvigie_scope_rebuilds_total (\d+)"),
            })
        except (OSError, StopIteration) as e:
            samples.append({"t": round(time.time() - t0, 1), "error": str(e)})
        time.sleep(1)
    for name, path in (("incidents", "/api/v1/incidents"), ("scope", "/api/v1/scope")):
        try:
            open(f"{out}-{name}.json", "wb").write(get(path, timeout=300))
        except OSError as e:
            print(f"{path}: {e}")
    server.terminate()
    server.wait()
    json.dump({"said": said, "samples": samples}, open(f"{out}.json", "w"), indent=0)
    for t, line in said:
        print(t, line)
    for s in samples[::10] + samples[-1:]:
        print(s)


def differences(a, b, path=""):
    if type(a) is not type(b):
        yield f"{path}: {str(a)[:80]} | {str(b)[:80]}"
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                yield f"{path}/{k}: only in {'the second' if k not in a else 'the first'}"
            else:
                yield from differences(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items | {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {str(a)[:80]} | {str(b)[:80]}"


def compare(a, b):
    found = list(differences(json.load(open(f"{a}-scope.json")), json.load(open(f"{b}-scope.json"))))
    for d in found:
        print(d)
    for out in (a, b):
        ids = [(i["live_id"], i["id"], i["detections"]) for i in json.load(open(f"{out}-incidents.json"))]
        print(out, "incidents:", ids)
    print(f"{len(found)} difference(s) between the scopes")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["compare"] and len(args) == 3:
        compare(args[1], args[2])
    elif args[:1] == ["run"] and len(args) >= 4:
        extra = args[args.index("--") + 1:] if "--" in args else []
        head = args[1:args.index("--")] if "--" in args else args[1:]
        secs = float(head[3]) if len(head) > 3 else 240
        run(head[0], head[1], head[2], secs, extra)
    else:
        sys.exit(__doc__)
