#!/usr/bin/env python3
"""`make bench`, the daemon: `dploy serve` following a git repository of the generated fleet.

Reports the resident memory of the daemon after its first reconcile and after the rounds,
the time from a commit plus a signed webhook to the converged file on disk (the commit adds
one machine of the web group, whose installer answer is the file; the clock starts when the
webhook is sent), and how long the server list page
and GET /v1/machines take for the whole fleet. Figures, not verdicts.
BENCH_SOURCE=folder follows a plain folder instead of a file:// repository, for comparison.
--store postgres keeps the store in a PostgreSQL 15 of the bench's own instead of SQLite.
"""
import argparse
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import generate  # noqa: E402
import postgres  # noqa: E402

SECRET = "bench-webhook-secret"


def git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.net",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.net", GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "-C", repo, *args], check=True, env=env, capture_output=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    kib = lambda key: int(fields[key].split()[0])
    return kib("VmRSS") / 1024, kib("VmHWM") / 1024, kib("RssAnon") / 1024, kib("RssFile") / 1024


def print_smaps(pid, top=12):
    """Resident memory by mapping (a library, the heap, anonymous memory), largest first:
    private pages are this daemon's own; file-backed clean pages are code and data that
    the kernel can drop and other processes may share."""
    totals = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts[0].endswith(":"):  # a mapping's header: address perms offset dev inode [path]
                name = os.path.basename(parts[5]) if len(parts) > 5 and parts[5].startswith("/") else \
                    (parts[5] if len(parts) > 5 else "[anonymous]")
                totals.setdefault(name, {"Rss": 0, "Private_Dirty": 0, "Anonymous": 0})
            elif parts[0][:-1] in totals[name]:
                totals[name][parts[0][:-1]] += int(parts[1])
    rows = sorted(totals.items(), key=lambda item: -item[1]["Rss"])
    print("    RSS MiB  private dirty  mapping")
    for name, kib in rows[:top]:
        print(f"    {kib['Rss'] / 1024:7.1f}  {kib['Private_Dirty'] / 1024:13.1f}  {name}")
    rest = sum(kib["Rss"] for _, kib in rows[top:])
    print(f"    {rest / 1024:7.1f}  {'':13}  {len(rows) - top} other mappings")


def request(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dploy", required=True)
    parser.add_argument("--machines", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smaps", action="store_true", help="also print resident memory by mapping")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    fleet = os.path.join(os.path.dirname(__file__), "out", f"fleet-{args.machines}")
    if not os.path.isdir(fleet):
        # No tasks: the daemon applies, and a task would SSH to or power-cycle the
        # generated machines' addresses, which exist nowhere.
        generate.generate(args.machines, fleet, tasks=False)
    work = tempfile.mkdtemp(prefix="dploy-bench-daemon-")
    daemon = None
    database = postgres.Server() if args.store == "postgres" else None
    try:
        repo = os.path.join(work, "upstream")
        shutil.copytree(fleet, os.path.join(repo, "fleet"))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "the fleet")
        os.makedirs(os.path.join(work, "secrets"), mode=0o700)
        secret_path = os.path.join(work, "secrets", "webhook")
        with open(os.open(secret_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(SECRET + "\n")
        port = free_port()
        config = os.path.join(work, "dploy.yaml")
        with open(config, "w") as f:
            source = (f"{{path: {repo}/fleet}}" if os.environ.get("BENCH_SOURCE") == "folder"
                      else f"{{url: \"file://{repo}\", ref: main, path: fleet}}")
            store = (database.store_yaml(os.path.join(work, "secrets", "db.password")) if database
                     else "store: {sqlite: state/dploy.db}\n")
            f.write(f"source: {source}\ninterval: 1h\n"
                    f"{store}output: {{http: out/http, tftp: out/tftp}}\n"
                    f"server: {{url: \"http://127.0.0.1:8080\", listen: \"127.0.0.1:{port}\"}}\nwebhook: {{secretFile: secrets/webhook}}\n")

        started = time.perf_counter()
        daemon = subprocess.Popen([args.dploy, "serve", "--config", config, "--listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"), text=True)
        # The status file appears when the first reconcile is done.
        status_path = os.path.join(work, "state", "daemon-status.json")
        while not os.path.exists(status_path):
            if daemon.poll() is not None:
                sys.exit("dploy serve exited before its first reconcile")
            time.sleep(0.01)
        first = time.perf_counter() - started
        with open(status_path) as f:
            result = json.load(f)["lastRun"]
        rss, peak, anon, mapped = rss_mib(daemon.pid)
        print(f"dploy serve, {args.machines} machines from git, store {args.store}: first reconcile ({result['result']}) done "
              f"after {first * 1000:.0f} ms; RSS {rss:.0f} MiB ({anon:.0f} anonymous, {mapped:.0f} file-backed; "
              f"peak {peak:.0f} MiB)")
        if args.smaps:
            print_smaps(daemon.pid)

        latencies = []
        for round_ in range(args.rounds):
            mac = f"02:00:00:00:ff:{round_:02x}"
            with open(os.path.join(repo, "fleet", f"bench-{round_}.yaml"), "w") as f:
                f.write(f"apiVersion: dploy.org/v1\nkind: Machine\nmetadata: {{name: bench-{round_}, labels: {{role: web}}}}\n"
                        f"spec: {{mac: \"{mac}\", hostname: bench-{round_}.bench.example.net}}\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"add bench-{round_}")
            # Its installer answer: dploy serve answers the iPXE script itself (server.listen), so writes none.
            target = os.path.join(work, "out", "http", "installers", f"bench-{round_}", "preseed.cfg")
            # Unique per delivery: dploy refuses the same signed body twice within 10 minutes.
            body = json.dumps({"ref": "refs/heads/main", "delivery": str(uuid.uuid4())}).encode()
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            sent = time.perf_counter()
            request(f"http://127.0.0.1:{port}/v1/hooks/git", body,
                    {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + signature})
            while not os.path.exists(target):
                if time.perf_counter() - sent > 60:
                    sys.exit(f"no converged file after 60 s: {target}")
                time.sleep(0.002)
            latencies.append(time.perf_counter() - sent)
            # The file lands mid-run: memory is read once the run has finished, as the daemon
            # then lives until the next one.
            while json.load(open(status_path))["runs"] < round_ + 2:
                time.sleep(0.01)
        rss, peak, anon, mapped = rss_mib(daemon.pid)
        print(f"commit + signed webhook → converged file: median {statistics.median(latencies) * 1000:.0f} ms over "
              f"{args.rounds} commits (min {min(latencies) * 1000:.0f}, max {max(latencies) * 1000:.0f}); "
              f"RSS after them {rss:.0f} MiB ({anon:.0f} anonymous, {mapped:.0f} file-backed; peak {peak:.0f} MiB)")
        if args.smaps:
            print_smaps(daemon.pid)

        # Quiet runs: webhooks with nothing new, as a daemon mostly lives.
        for _ in range(args.rounds):
            runs = json.load(open(status_path))["runs"]
            # Unique per delivery: dploy refuses the same signed body twice within 10 minutes.
            body = json.dumps({"ref": "refs/heads/main", "delivery": str(uuid.uuid4())}).encode()
            signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            request(f"http://127.0.0.1:{port}/v1/hooks/git", body,
                    {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + signature})
            while json.load(open(status_path))["runs"] == runs:
                time.sleep(0.01)
        rss, peak, anon, mapped = rss_mib(daemon.pid)
        print(f"after {args.rounds} more runs with nothing new: RSS {rss:.0f} MiB ({anon:.0f} anonymous, "
              f"{mapped:.0f} file-backed; peak {peak:.0f} MiB)")
        if args.smaps:
            print_smaps(daemon.pid)

        with open(os.path.join(work, "state", "web.token")) as f:
            token = f.read().strip()
        auth = {"Authorization": "Bearer " + token}
        for path in ["/", "/v1/machines"]:
            times = []
            for _ in range(3):
                start = time.perf_counter()
                size = len(request(f"http://127.0.0.1:{port}{path}", headers=auth))
                times.append(time.perf_counter() - start)
            print(f"GET {path}: median {statistics.median(times) * 1000:.0f} ms, {size / 1e6:.1f} MB")
        rss, peak, anon, mapped = rss_mib(daemon.pid)
        print(f"RSS right after the pages: {rss:.0f} MiB ({anon:.0f} anonymous, {mapped:.0f} file-backed; peak {peak:.0f} MiB)")
        # The daemon gives a page's memory back a second after it (ReturnFreedMemoryMiddleware).
        time.sleep(2)
        rss, peak, anon, mapped = rss_mib(daemon.pid)
        print(f"RSS 2 s after the pages: {rss:.0f} MiB ({anon:.0f} anonymous, {mapped:.0f} file-backed)")
        with open(os.path.join(work, "serve.log")) as f:
            runs = [line for line in f if "trigger=webhook" in line and " seconds=" in line]
        # Each run's own duration, as the daemon measured it (the log's seconds=): the commit
        # runs first, then the quiet ones.
        seconds = [float(line.split(" seconds=", 1)[1].split()[0]) for line in runs]
        for label, part in [("commit", seconds[:args.rounds]), ("no-change", seconds[args.rounds:])]:
            if part:
                print(f"  {label} reconcile run, as the daemon timed it: median {statistics.median(part) * 1000:.0f} ms "
                      f"(min {min(part) * 1000:.0f}, max {max(part) * 1000:.0f})")
        def steps(line):
            # With the machines the run's plan worked out again, of the fleet's (planned=N/M).
            planned = line.split(' planned=', 1)[1].split()[0] if ' planned=' in line else None
            return line.split('steps=', 1)[1].split(' trigger=')[0].strip() + (f"; planned {planned}" if planned else "")
        for line in runs[args.rounds - 2:args.rounds]:
            print(f"  a commit run's steps (seconds): {steps(line)}")
        for line in runs[-2:]:
            print(f"  a no-change run's steps (seconds): {steps(line)}")
    finally:
        if daemon is not None:
            # BENCH_KILL=1: SIGKILL, so a heap profiler wrapping dploy sees what was alive.
            daemon.send_signal(signal.SIGKILL if os.environ.get("BENCH_KILL") else signal.SIGTERM)
            daemon.wait(timeout=30)
        if database:
            database.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
