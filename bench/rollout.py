#!/usr/bin/env python3
"""`make bench`, rollout part: a FirmwareBaseline rolled out by `dploy serve` over N emulated
iLO 5s (the tests' ilo_fixture.py, one process, a port each, flashes that take
--update-seconds of wall time), once per --max-parallel.

For each maxParallel P it prints:
- the rollout's wall time, from the commit that assigns the baseline to the last job's end,
  against the emulator's own capacity at P: a plain Python client flashing the same N iLOs
  P at a time (POST SimpleUpdate, poll until Complete), and the floor ceil(N / P) x seconds;
- while the rollout runs: commit + signed webhook -> converged boot file (median of 3), and
  GET /boot.ipxe under wrk paced at half the server's idle capacity, its p99 against the same
  measured before the rollout began (each the median of three 10-second windows), with the
  reconcile runs and the flashes that ended meanwhile (and, before the rollout, one window as
  fast as answered: the idle capacity that sets the pace).

Figures, not verdicts. The emulator is Python: with many iLOs it, not dploy, is often the
limit, which is why its own capacity is measured beside dploy's.

How boot traffic is measured, and why (figures of 2026-12-07, 2 cores):
- Paced, not as fast as answered. A closed loop keeps both cores busy: its p99 (9-10 ms idle)
  measures the CPU share left to boot answers, and it slows whatever else runs, the rollout
  under measurement included. Paced at about half the idle capacity, the idle p99 is 2.4-3.4 ms.
- The emulator runs under SCHED_IDLE (--emulator-priority idle, `chrt --idle 0`): its
  thousand iLOs stand for other machines, whose CPUs a real controller does not share. At the
  normal priority, with a closed loop and maxParallel 64, the p99 was 5-6x idle; under
  SCHED_IDLE 1.5-1.7x.
- But under SCHED_IDLE with a closed loop the rollout slowed: at maxParallel 16 it took 215 s
  against 160 s at the normal priority (paced, 191 s). The flashes that ended during the
  windows, set against the plain client's pace, show how much of the rollout's work the windows
  saw: paced, 69% at maxParallel 16 and 57% at 64 under SCHED_IDLE, 72% at 64 at the normal
  priority, where the p99 was 10.5x idle against 9.1x.
"""
import argparse
import base64
import calendar
import concurrent.futures
import hashlib
import hmac
import http.server
import json
import math
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from daemon import free_port, git, request  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "Tests", "DployBMCTests", "Fixtures", "ilo_fixture.py")
SECRET = "bench-webhook-secret"
USER = "Administrator"
FLASHED = "iLO 5=3.08 Nov 01 2026"


def medians(windows):
    """The median requests/s and p99 ms of wrk windows."""
    return statistics.median(r[0] for r in windows), statistics.median(r[1] for r in windows)


CONNECTIONS = 32


def pacing(work, pause_ms):
    """A wrk script that pauses each connection pause_ms after every answer: the rate is
    about CONNECTIONS / (pause + latency), so it falls a little as answers slow down."""
    path = os.path.join(work, "pace.lua")
    with open(path, "w") as f:
        f.write(f"function delay() return {pause_ms} end\n")
    return path


def wrk(url, seconds=10, script=None):
    """Requests/s and p99 ms of GET url: as fast as answered (closed loop, the server's
    capacity), or paced by a wrk script (`pacing`)."""
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
                          *(["-s", script] if script else []), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"\s99%\s+([\d.]+)(\w+)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


class Fleet:
    """N emulated iLO 5s in one fixture process, with their certificate and login."""

    def __init__(self, work, count, update_seconds, priority="idle"):
        self.cert, key = os.path.join(work, "ilo.crt"), os.path.join(work, "ilo.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", self.cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        out = subprocess.run(["openssl", "x509", "-in", self.cert, "-noout", "-fingerprint", "-sha256"],
                             check=True, capture_output=True, text=True).stdout
        self.fingerprint = out.strip().split("=", 1)[1]
        self.password = "bench-" + os.urandom(6).hex()
        password_file = os.path.join(work, "ilo.password")
        with open(password_file, "w") as f:
            f.write(self.password)
        scheduling = ["chrt", "--idle", "0"] if priority == "idle" else []
        self.process = subprocess.Popen(scheduling + [sys.executable, FIXTURE, "--cert", self.cert, "--key", key, "--user", USER,
                                         "--password-file", password_file, "--generation", "5", "--count", str(count),
                                         "--update-seconds", str(update_seconds), "--flash-to", FLASHED],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("PORTS "):
            sys.exit(f"the iLO fixture did not start: {line!r}")
        self.ports = [int(p) for p in line.split()[1:]]

    def stop(self):
        self.process.kill()
        self.process.wait()


def emulator_capacity(work, count, update_seconds, parallel, priority):
    """Seconds a plain client takes to flash `count` fresh iLOs, `parallel` at a time."""
    fleet = Fleet(work, count, update_seconds, priority)
    context = ssl.create_default_context(cafile=fleet.cert)
    auth = "Basic " + base64.b64encode(f"{USER}:{fleet.password}".encode()).decode()

    def call(port, path, body=None):
        req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": auth, "Content-Type": "application/json"},
                                     method="POST" if body else "GET")
        with urllib.request.urlopen(req, timeout=60, context=context) as response:
            return json.load(response)

    def flash(port):
        call(port, "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate", {"ImageURI": "http://127.0.0.1/fw.fwpkg"})
        while call(port, "/redfish/v1/UpdateService")["Oem"]["Hpe"]["State"] != "Complete":
            time.sleep(0.25)

    try:
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            list(pool.map(flash, fleet.ports))
        return time.perf_counter() - started
    finally:
        fleet.stop()


def reconciles(port, auth):
    """Reconcile runs so far and the seconds they took, from /metrics."""
    text = request(f"http://127.0.0.1:{port}/metrics", headers=auth).decode()
    runs = sum(float(m) for m in re.findall(r'^dploy_reconcile_runs_total\{[^}]*\} ([\d.e+]+)$', text, re.M))
    seconds = float(re.search(r'^dploy_reconcile_duration_seconds_sum(?:\{\})? ([\d.e+-]+)$', text, re.M).group(1))
    return runs, seconds


def webhook(port):
    # Unique per delivery: dploy refuses the same signed body twice within 10 minutes.
    body = json.dumps({"ref": "refs/heads/main", "delivery": str(uuid.uuid4())}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request(f"http://127.0.0.1:{port}/v1/hooks/git", body,
            {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + signature})


def machine(index, port, fingerprint):
    return (f"apiVersion: dploy.org/v1\nkind: Machine\nmetadata: {{name: node-{index:04d}, labels: {{rack: r1}}}}\n"
            f"spec:\n  mac: \"52:54:01:00:{index >> 8:02x}:{index & 255:02x}\"\n"
            f"  bmc: {{address: \"https://127.0.0.1:{port}\", credentials: ilo, fingerprint: \"{fingerprint}\"}}\n---\n")


def group(firmware):
    defaults = "{firmware: gen10}" if firmware else "{}"
    return f"apiVersion: dploy.org/v1\nkind: Group\nmetadata: {{name: rack}}\nspec: {{selector: {{rack: r1}}, defaults: {defaults}}}\n"


def rollout(args, parallel):
    work = tempfile.mkdtemp(prefix="dploy-bench-rollout-")
    fleet = images = daemon = None
    try:
        fleet = Fleet(work, args.bmcs, args.update_seconds, args.emulator_priority)
        # The image, served on loopback: dploy checks its SHA-256 once before the first flash.
        os.makedirs(os.path.join(work, "images"))
        image = os.path.join(work, "images", "ilo5_308.fwpkg")
        with open(image, "w") as f:
            f.write("iLO 5 3.08 firmware\n" * 500)
        sha256 = hashlib.sha256(open(image, "rb").read()).hexdigest()
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=os.path.join(work, "images"), **k)
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        images = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=images.serve_forever, daemon=True).start()

        repo = os.path.join(work, "upstream")
        os.makedirs(os.path.join(repo, "fleet"))
        with open(os.path.join(repo, "fleet", "baseline.yaml"), "w") as f:
            f.write(f"apiVersion: dploy.org/v1\nkind: FirmwareBaseline\nmetadata: {{name: gen10}}\nspec:\n"
                    f"  models: [\"ProLiant DL180 Gen10\"]\n  components:\n"
                    f"    - {{name: \"iLO 5\", version: \"3.08\", image: \"http://127.0.0.1:{images.server_address[1]}/ilo5_308.fwpkg\", "
                    f"sha256: \"{sha256}\"}}\n  rollout: {{maxParallel: {parallel}}}\n")
        with open(os.path.join(repo, "fleet", "machines.yaml"), "w") as f:
            f.write("".join(machine(i, port, fleet.fingerprint) for i, port in enumerate(fleet.ports)))
        with open(os.path.join(repo, "fleet", "group.yaml"), "w") as f:
            f.write(group(firmware=False))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "the fleet, no baseline yet")

        os.makedirs(os.path.join(work, "secrets"), mode=0o700)
        for name, text in [("webhook", SECRET + "\n"),
                           ("ilo.yaml", f"username: {USER}\npassword: '{fleet.password}'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")]:
            with open(os.open(os.path.join(work, "secrets", name), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(text)
        port = free_port()
        with open(os.path.join(work, "dploy.yaml"), "w") as f:
            f.write(f"source: {{url: \"file://{repo}\", ref: main, path: fleet}}\ninterval: 1h\n"
                    "store: {sqlite: state/dploy.db}\noutput: {http: out/http, tftp: out/tftp}\nsecrets: secrets\n"
                    "server: {url: \"http://127.0.0.1:8080\"}\nwebhook: {secretFile: secrets/webhook}\n"
                    f"bmc: {{observe: true, concurrency: 64, jobWorkers: {parallel}, pollInterval: 1s, firmwareTimeout: 10m}}\n")
        started = time.perf_counter()
        daemon = subprocess.Popen([os.path.abspath(args.dploy), "serve", "--config", os.path.join(work, "dploy.yaml"), "--listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"), cwd=work)
        status_path = os.path.join(work, "state", "daemon-status.json")
        while not os.path.exists(status_path):
            if daemon.poll() is not None:
                sys.exit("dploy serve exited before its first reconcile: " + open(os.path.join(work, "serve.log")).read()[-2000:])
            time.sleep(0.05)
        first = time.perf_counter() - started
        token = open(os.path.join(work, "state", "web.token")).read().strip()
        auth = {"Authorization": "Bearer " + token}
        boot = f"http://127.0.0.1:{port}/boot.ipxe?mac=52:54:01:00:00:01"
        # Boot traffic is measured at about half the server's idle capacity, not as fast as it
        # answers: a closed loop keeps both cores busy, which measures the CPU share left to boot
        # answers and, on a machine the emulator shares, slows the emulator and the rollout.
        capacity_rps, capacity_p99 = wrk(boot)
        pause_ms = max(1, round(CONNECTIONS * 1000 / (capacity_rps / 2)))
        paced = pacing(work, pause_ms)
        idle = [wrk(boot, script=paced) for _ in range(3)]
        idle_rps, idle_p99 = medians(idle)

        def jobs():
            return json.loads(request(f"http://127.0.0.1:{port}/v1/jobs?limit=10000", headers=auth))

        # The baseline reaches every machine in one commit.
        with open(os.path.join(repo, "fleet", "group.yaml"), "w") as f:
            f.write(group(firmware=True))
        git(repo, "commit", "-qam", "baseline gen10 for the rack")
        began = time.time()
        webhook(port)
        while not any(job["state"] == "running" for job in jobs()):
            if time.time() - began > 120:
                sys.exit("no BMC job started within 120 s: " + open(os.path.join(work, "serve.log")).read()[-2000:])
            time.sleep(0.2)

        runs_before = reconciles(port, auth)
        busy, running = [], []
        windows_began = time.time()
        for _ in range(3):
            busy.append(wrk(boot, script=paced))
            running.append(any(job["state"] == "running" for job in jobs()))
        windows_ended = time.time()
        busy_rps, busy_p99 = medians(busy)
        runs_during = [after - before for after, before in zip(reconciles(port, auth), runs_before)]
        latencies = []
        for round_ in range(3):
            mac = f"02:00:00:00:fe:{round_:02x}"
            with open(os.path.join(repo, "fleet", f"bench-{round_}.yaml"), "w") as f:
                f.write(f"apiVersion: dploy.org/v1\nkind: Machine\nmetadata: {{name: bench-{round_}}}\nspec: {{mac: \"{mac}\"}}\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"add bench-{round_}")
            target = os.path.join(work, "out", "http", "ipxe", mac.replace(":", "-") + ".ipxe")
            sent = time.perf_counter()
            webhook(port)
            while not os.path.exists(target):
                if time.perf_counter() - sent > 60:
                    sys.exit(f"no converged file after 60 s: {target}")
                time.sleep(0.002)
            latencies.append(time.perf_counter() - sent)

        while True:
            rows = jobs()
            # A machine is done once a job of it ended for good; a cancelled one is queued again.
            done = [job for job in rows if job["state"] in ("succeeded", "failed", "skipped")]
            if len({job["machine"] for job in done}) >= args.bmcs:
                break
            if time.time() - began > 3600:
                sys.exit(f"the rollout did not end within an hour: {len(done)} of {args.bmcs} jobs ended")
            time.sleep(1)
        failed = [job for job in rows if job["state"] != "succeeded"]
        ends = [calendar.timegm(time.strptime(job["finishedAt"], "%Y-%m-%dT%H:%M:%SZ")) for job in done]
        wall = max(ends) - began
        # The BMC work the windows were measured under: flashes that ended in them (finishedAt
        # has whole seconds), set against the plain client's pace in main().
        in_windows = sum(1 for end in ends if int(windows_began) <= end <= windows_ended)
        rate_in = in_windows / (windows_ended - windows_began)
        print(f"rollout, {args.bmcs} iLOs (emulator at {args.emulator_priority} priority), maxParallel {parallel}, "
              f"{args.update_seconds:g} s a flash: first reconcile "
              f"{first:.1f} s; all flashed in {wall:.1f} s ({len(failed)} not succeeded)")
        print(f"  commit + webhook -> converged file during it: median {statistics.median(latencies) * 1000:.0f} ms "
              f"(max {max(latencies) * 1000:.0f} ms)")
        print(f"  GET /boot.ipxe at {idle_rps:.0f} req/s ({idle_rps / capacity_rps:.0%} of the idle capacity, {capacity_rps:.0f} req/s, "
              f"with a closed loop's p99 {capacity_p99:.2f} ms; wrk -t2 -c{CONNECTIONS}, {pause_ms} ms pause after each answer), "
              f"median of three 10 s windows: p99 idle {idle_p99:.2f} ms, during the rollout {busy_p99:.2f} ms "
              f"at {busy_rps:.0f} req/s ({busy_p99 / idle_p99:.1f}x idle)"
              + ("" if all(running) else f"; no job ran at the end of window(s) {[i + 1 for i, r in enumerate(running) if not r]}"))
        print(f"    p99 of each window, idle: {', '.join(f'{p:.1f}' for _, p in idle)} ms; during: "
              f"{', '.join(f'{p:.1f}' for _, p in busy)} ms; {runs_during[0]:.0f} reconcile runs during them, "
              f"{runs_during[1]:.1f} s of run time; {rate_in:.1f} flashes ended a second")
        return wall, rate_in
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=60)
        if images is not None:
            images.shutdown()
        if fleet is not None:
            fleet.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dploy", required=True)
    parser.add_argument("--bmcs", type=int, default=1000)
    parser.add_argument("--max-parallel", default="16,64")
    parser.add_argument("--update-seconds", type=float, default=2.0)
    parser.add_argument("--emulator-priority", choices=["idle", "normal"], default="idle",
                        help="the emulated iLOs' scheduling (default idle: they stand for other machines' CPUs)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (bash .ci/setup bench installs it)")
    for parallel in [int(p) for p in args.max_parallel.split(",")]:
        wall, rate_in = rollout(args, parallel)
        work = tempfile.mkdtemp(prefix="dploy-bench-capacity-")
        try:
            capacity = emulator_capacity(work, args.bmcs, args.update_seconds, parallel, args.emulator_priority)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        floor = math.ceil(args.bmcs / parallel) * args.update_seconds
        print(f"  the emulator's own capacity at {parallel} at once: a plain client {capacity:.1f} s, floor {floor:.0f} s; "
              f"dploy {wall / capacity:.2f}x the plain client; during the boot windows dploy's flashes ended at "
              f"{rate_in / (args.bmcs / capacity):.0%} of the plain client's pace ({args.bmcs / capacity:.1f}/s)")


if __name__ == "__main__":
    main()
