#!/usr/bin/env python3
"""`make bench`, HTTP part: GET /boot.ipxe from `dploy serve` against nginx serving the
same bytes as a static file, both on loopback, both measured by wrk in the same run.

Prints requests per second, the ratio dploy/nginx, and p99 latency. Figures, not verdicts.
--store postgres keeps the lab's store in a PostgreSQL 15 of the bench's own instead of SQLite.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import postgres  # noqa: E402

LAB = os.path.join(os.path.dirname(__file__), "..", "examples", "lab")
MAC = "94:18:82:3a:5e:f1"  # spare-01: no profile, so every answer is the same local-boot script


def wait_for(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def wrk(url, seconds, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"{url}: {errors.group(1)} error responses\n{out}")
    return rps, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dploy", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (bash .ci/setup bench installs it)")

    work = tempfile.mkdtemp(prefix="dploy-http-bench-")
    os.chmod(work, 0o755)  # nginx workers run as an unprivileged user and must read www/
    processes = []
    database = postgres.Server() if args.store == "postgres" else None
    try:
        lab = os.path.join(work, "lab")
        shutil.copytree(LAB, lab, ignore=shutil.ignore_patterns("state", "out"))
        if database:
            config = os.path.join(lab, "dploy.yaml")
            with open(config) as f:
                text = f.read().replace("store: {sqlite: state/dploy.db}\n", database.store_yaml(os.path.join(lab, "db.password")))
            with open(config, "w") as f:
                f.write(text)
        dploy = subprocess.Popen([os.path.abspath(args.dploy), "serve", "--config", os.path.join(lab, "dploy.yaml"),
                                  "--listen", "127.0.0.1:18080"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(dploy)
        wait_for(18080)
        url = f"http://127.0.0.1:18080/boot.ipxe?mac={MAC}"
        body = urllib.request.urlopen(url).read()

        root = os.path.join(work, "www")
        os.makedirs(root)
        with open(os.path.join(root, "boot.ipxe"), "wb") as f:
            f.write(body)
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
daemon off; worker_processes auto; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; default_type text/plain;
  client_body_temp_path {work}/t1; proxy_temp_path {work}/t2; fastcgi_temp_path {work}/t3;
  uwsgi_temp_path {work}/t4; scgi_temp_path {work}/t5;
  server {{ listen 127.0.0.1:18081; root {root}; location / {{ }} }} }}
""")
        nginx = subprocess.Popen(["nginx", "-c", conf, "-p", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(nginx)
        wait_for(18081)
        assert urllib.request.urlopen("http://127.0.0.1:18081/boot.ipxe").read() == body

        dploy_rps, dploy_p99 = wrk(url, args.seconds, args.connections)
        nginx_rps, nginx_p99 = wrk("http://127.0.0.1:18081/boot.ipxe", args.seconds, args.connections)
        print(f"GET /boot.ipxe ({len(body)} bytes, wrk -t2 -c{args.connections} -d{args.seconds}s, loopback, store {args.store}):")
        print(f"  dploy serve: {dploy_rps:,.0f} requests/s, p99 {dploy_p99}")
        print(f"  nginx static file: {nginx_rps:,.0f} requests/s, p99 {nginx_p99}")
        print(f"  ratio dploy / nginx: {dploy_rps / nginx_rps:.0%}")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        if database:
            database.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
