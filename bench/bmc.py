#!/usr/bin/env python3
"""`make bench`, BMC part: observe N emulated BMCs (one sushy-emulator serving N fake
systems over HTTPS on loopback) with `dploy bmc status` at concurrency 16 and 64, and the
same GETs (service root, system, manager per BMC) from Python's `sushy` client with as many
threads, in the same run. Prints seconds, BMCs per second and the ratio sushy/dploy.

Both clients talk to the same Python emulator, which is most of the cost: the ratio says
how much each client adds, not how fast a real iLO answers. Figures, not verdicts.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dploy", required=True)
    parser.add_argument("--bmcs", type=int, default=1000)
    parser.add_argument("--concurrency", default="16,64")
    args = parser.parse_args()
    if not shutil.which("sushy-emulator"):
        sys.exit("sushy-emulator is not installed (pip install sushy-tools bcrypt sushy); skipping the BMC bench")
    import bcrypt
    import sushy
    from sushy import auth as sushy_auth

    work = tempfile.mkdtemp(prefix="dploy-bench-bmc-")
    port = free_port()
    cert, key = os.path.join(work, "bmc.crt"), os.path.join(work, "bmc.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    password = "bench-" + os.urandom(6).hex()
    with open(os.path.join(work, "htpasswd"), "w") as f:
        f.write("admin:" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode() + "\n")
    uuids = ["0e6d7a6e-0000-4000-8000-%012d" % i for i in range(args.bmcs)]
    systems = ",\n".join("{'uuid': '%s', 'name': 'node-%d', 'power_state': 'On', 'nics': [{'mac': '52:54:00:%02x:%02x:%02x', 'ip': '198.18.0.2'}]}"
                         % (u, i, i >> 16 & 255, i >> 8 & 255, i & 255) for i, u in enumerate(uuids))
    with open(os.path.join(work, "conf.py"), "w") as f:
        f.write(f"""SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_LISTEN_PORT = {port}
SUSHY_EMULATOR_STATE_DIR = '{work}/state'
SUSHY_EMULATOR_AUTH_FILE = '{work}/htpasswd'
SUSHY_EMULATOR_SSL_CERT = '{cert}'
SUSHY_EMULATOR_SSL_KEY = '{key}'
SUSHY_EMULATOR_FAKE_SYSTEMS = [{systems}]
""")
    os.makedirs(os.path.join(work, "specs"))
    os.makedirs(os.path.join(work, "secrets"), mode=0o700)
    secret = os.path.join(work, "secrets", "bench-bmc.yaml")
    with open(secret, "w") as f:
        f.write(f"username: admin\npassword: '{password}'\n")
    os.chmod(secret, 0o600)
    base = f"https://127.0.0.1:{port}"
    with open(os.path.join(work, "specs", "machines.yaml"), "w") as f:
        for i, u in enumerate(uuids):
            f.write(f"""apiVersion: dploy.org/v1
kind: Machine
metadata: {{name: node-{i}}}
spec:
  mac: "52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
  bmc: {{address: "{base}/redfish/v1/Systems/{u}", credentials: bench-bmc, caFile: {cert}}}
---
""")
    config = os.path.join(work, "dploy.yaml")
    with open(config, "w") as f:
        f.write("source: {path: specs}\nstore: {sqlite: state/dploy.db}\nsecrets: secrets\n")

    log = open(os.path.join(work, "sushy.log"), "w")
    emulator = subprocess.Popen(["sushy-emulator", "--config", os.path.join(work, "conf.py")], stdout=log, stderr=log)
    try:
        root = sushy_auth.BasicAuth(username="admin", password=password)
        deadline = time.time() + 120
        while True:
            try:
                # The first request writes the systems into the emulator's state: slow, once.
                sushy.Sushy(base + "/redfish/v1/", auth=root, verify=cert).get_system_collection()
                break
            except Exception:
                if time.time() > deadline or emulator.poll() is not None:
                    sys.exit("sushy-emulator did not start; see " + log.name)
                time.sleep(0.5)

        def sushy_one(uuid):
            client = sushy.Sushy(base + "/redfish/v1/", auth=sushy_auth.BasicAuth(username="admin", password=password), verify=cert)
            system = client.get_system("/redfish/v1/Systems/" + uuid)
            manager = client.get_manager(system.managers[0].path) if system.managers else None
            return system.power_state, manager

        print(f"BMC observation: {args.bmcs} BMCs emulated by one sushy-emulator (HTTPS, basic auth), loopback")
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            start = time.perf_counter()
            out = subprocess.run([args.dploy, "bmc", "status", "--config", config, "--json", "--concurrency", str(concurrency)],
                                 capture_output=True, text=True)
            dploy_seconds = time.perf_counter() - start
            rows = json.loads(out.stdout or "[]")
            failed = [r for r in rows if r.get("error")]
            if out.returncode != 0 or len(rows) != args.bmcs:
                sys.exit(f"dploy bmc status failed ({len(failed)} errors): {out.stderr[:2000]}")

            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
                results = list(pool.map(sushy_one, uuids))
            sushy_seconds = time.perf_counter() - start
            assert len(results) == args.bmcs

            print(f"  concurrency {concurrency:3d}: dploy {dploy_seconds:6.2f} s ({args.bmcs / dploy_seconds:6.0f} BMCs/s)   "
                  f"python sushy {sushy_seconds:6.2f} s ({args.bmcs / sushy_seconds:6.0f} BMCs/s)   "
                  f"sushy/dploy time ratio {sushy_seconds / dploy_seconds:4.2f}")
    finally:
        emulator.kill()
        emulator.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
