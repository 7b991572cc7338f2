#!/usr/bin/env python3
"""Detection throughput of the regional deployment with 1 and 2 `detect`
workers on the same events (a private nats-server with JetStream and a
private PostgreSQL, both on loopback, started and removed here).

For each worker count, from fresh servers:
  1. an `ingest` node takes every event of the logs directory over
     /api/v1/ingest (one request per 4,000 lines, 2 senders): ingest
     events/s;
  2. once every event is in the stream, N `detect` workers start on the
     stream's one durable consumer; timed from the moment every worker
     listens (rules compiled) until the deployment's committed position
     (`events_committed` of /api/v1/stats) is every event: detection
     events/s, and the CPU seconds (user + system, /proc/PID/stat) of
     each worker, of nats-server and of PostgreSQL over that time.

Prints one JSON object per run, then a summary with the CPU cost per
million events of one worker and the cores 100,000 events/s would take.

    cargo build --release -p vigie
    target/release/vigie demo --scale week --quiet --dir /tmp/week
    python3 scripts/bench-regional.py target/release/vigie /tmp/week/scenario/logs

Needs nats-server and PostgreSQL (Debian: apt-get install nats-server
postgresql); run as root, PostgreSQL runs as `nobody`. Python 3
standard library only.
"""
import glob, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time, http.client

VIGIE = os.path.abspath(sys.argv[1])
LOGS = sys.argv[2]
COUNTS = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else [1, 2]
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, what):
    until = time.time() + 30
    while time.time() < until:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} not listening on {port}")


def cpu(pid):
    """User + system CPU seconds of a process and its threads."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return 0.0


def tree_cpu(root_pid):
    """CPU seconds of a process and its children (PostgreSQL's backends)."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            ppid = int(rest[1])
        except OSError:
            continue
        if int(d) == root_pid or ppid == root_pid:
            total += (int(rest[11]) + int(rest[12])) / TICK
    return total


class Servers:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-regional-")
        os.chmod(self.dir, 0o755)
        self.nats_port = free_port()
        self.nats = subprocess.Popen(
            ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.nats_port), "-sd", os.path.join(self.dir, "nats")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.nats_port, "nats-server")
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        self.pgbin = bins[-1]
        self.pgdir = os.path.join(self.dir, "pg")
        os.makedirs(self.pgdir)
        shutil.chown(self.pgdir, "nobody", "nogroup")
        self.data = os.path.join(self.pgdir, "data")
        self.pg_port = free_port()
        self.pg(["initdb", "-D", self.data, "-U", "vigie", "--auth=trust", "-E", "UTF8", "--locale=C"])
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("host all all 127.0.0.1/32 trust\n")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            # fsync on: what a deployment runs.
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.pg_port}\nunix_socket_directories = '{self.pgdir}'\n")
        self.pg(["pg_ctl", "-D", self.data, "-l", os.path.join(self.pgdir, "log"), "-w", "start"])
        self.pg(["createdb", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "vigie", "vigie"])
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pg_pid = int(f.readline())

    def pg(self, cmd):
        cmd = [os.path.join(self.pgbin, cmd[0])] + cmd[1:]
        subprocess.run(["runuser", "-u", "nobody", "--"] + cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        self.pg(["pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])
        self.nats.terminate()
        self.nats.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    def __init__(self, work, name, role, servers, tokens):
        self.data = os.path.join(work, name)
        os.makedirs(self.data)
        shutil.copy(os.path.join(tokens, "tokens.jsonl"), self.data)
        self.proc = subprocess.Popen(
            [VIGIE, "serve", "--data", self.data, "--listen", "127.0.0.1:0",
             "--bus", f"nats://127.0.0.1:{servers.nats_port}",
             "--db", f"postgres://vigie@127.0.0.1:{servers.pg_port}/vigie", "--role", role],
            stderr=subprocess.PIPE, text=True)
        self.base = None
        while self.base is None:
            line = self.proc.stderr.readline()
            if not line:
                sys.exit(f"{name} ended: {self.proc.wait()}")
            m = re.match(r"vigie serve: listening on http://(.*)", line)
            if m:
                self.base = m.group(1)
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def req(self, method, path, token, body=None):
        host, port = self.base.split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=600)
        c.request(method, path, body=body, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        d = r.read()
        c.close()
        return r.status, d

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def token(data, scope):
    return subprocess.run([VIGIE, "token", "create", "--data", data, "--scope", scope],
                          capture_output=True, text=True, check=True).stdout.strip()


def run(n, bodies, total):
    servers = Servers()
    work = tempfile.mkdtemp(prefix="bench-regional-nodes-")
    tokens = os.path.join(work, "tokens")
    ingest_tok, admin = token(tokens, "ingest"), token(tokens, "admin")
    ingest = Node(work, "ingest", "ingest", servers, tokens)
    idx = [0]
    lock = threading.Lock()

    def sender():
        while True:
            with lock:
                if idx[0] >= len(bodies):
                    return
                b = bodies[idx[0]]
                idx[0] += 1
            while True:
                s, d = ingest.req("POST", "/api/v1/ingest", ingest_tok, b)
                if s == 200:
                    break
                time.sleep(1)

    t0 = time.time()
    senders = [threading.Thread(target=sender) for _ in range(2)]
    [t.start() for t in senders]
    [t.join() for t in senders]
    ingest_s = time.time() - t0
    stats = lambda: json.loads(ingest.req("GET", "/api/v1/stats", admin)[1])
    assert stats()["events_stored"] == total, stats()
    workers = [Node(work, f"w{i}", "detect", servers, tokens) for i in range(n)]
    cpu0 = [cpu(w.proc.pid) for w in workers]
    nats0, pg0 = cpu(servers.nats.pid), tree_cpu(servers.pg_pid)
    t1 = time.time()
    while True:
        s = stats()
        if s["events_committed"] == total:
            break
        time.sleep(0.2)
    detect_s = time.time() - t1
    worker_cpu = [cpu(w.proc.pid) - c for w, c in zip(workers, cpu0)]
    out = {
        "workers": n,
        "events": total,
        "ingest_s": round(ingest_s, 2),
        "ingest_events_per_s": round(total / ingest_s),
        "detect_s": round(detect_s, 2),
        "detect_events_per_s": round(total / detect_s),
        "worker_cpu_s": [round(c, 2) for c in worker_cpu],
        "nats_cpu_s": round(cpu(servers.nats.pid) - nats0, 2),
        "postgres_cpu_s": round(tree_cpu(servers.pg_pid) - pg0, 2),
        "detections": s["detections"],
        "load_average": os.getloadavg()[0],
    }
    for node in workers + [ingest]:
        node.stop()
    servers.stop()
    shutil.rmtree(work, ignore_errors=True)
    return out


def main():
    files = sorted(glob.glob(os.path.join(LOGS, "**", "*.jsonl"), recursive=True))
    bodies = []
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            lines = [l for l in fh.read().split(b"\n") if l.strip()]
        for i in range(0, len(lines), 4000):
            chunk = lines[i:i + 4000]
            bodies.append(b"\n".join(chunk) + b"\n")
            total += len(chunk)
    runs = []
    for n in COUNTS:
        r = run(n, bodies, total)
        print(json.dumps(r), flush=True)
        runs.append(r)
    # One worker's CPU per million events, over every run (CPU time does
    # not depend on how many workers share the machine's cores).
    cpu_per_event = sum(sum(r["worker_cpu_s"]) for r in runs) / sum(r["events"] for r in runs)
    side = sum(r["nats_cpu_s"] + r["postgres_cpu_s"] for r in runs) / sum(r["events"] for r in runs)
    print(json.dumps({
        "worker_cpu_s_per_million_events": round(cpu_per_event * 1e6, 1),
        "events_per_s_per_worker_core": round(1 / cpu_per_event),
        "nats_and_postgres_cpu_s_per_million_events": round(side * 1e6, 1),
        "worker_cores_for_100k_events_per_s": round(100_000 * cpu_per_event, 1),
        "nats_and_postgres_cores_for_100k_events_per_s": round(100_000 * side, 1),
    }))


main()
