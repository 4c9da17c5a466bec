#!/usr/bin/env python3
"""The e2e machine's BMC: a small Redfish service over HTTPS that owns the QEMU machine.

A test double for a server's BMC, in Python's standard library. It serves one system,
/redfish/v1/Systems/e2e, with what dploy's Redfish client reads and does (see
Sources/DployBMC): the service root (no SessionService, so the client uses basic auth on
every request, as it does with sushy-tools), the Systems collection, the system with its
PowerState, boot override and ComputerSystem.Reset action, a PATCH of the boot override
and a POST of a reset.

Power is QEMU, started with the command line given after `--` (the machine's hardware,
lib/power.sh). In it, {boot} is replaced by the boot's number (console-{boot}.log), and
{net} and {disk} by the NIC's and the disk's bootindex. The machine boots the network
first (the lab's boot order: iPXE asks dploy, which answers "local disk" when there is
nothing to do); a boot override (Pxe or Hdd, Once or Continuous) decides the first device
of the next power-on and a Once override is then cleared, as a BMC does. A reboot inside
the guest is a reboot: QEMU runs without -no-reboot and the machine stays on. The machine
is Off when QEMU exits (a poweroff, or the boot sector's isa-debug-exit); its exit status
is kept under Oem.DployE2E, with the boot number and the console file, for the test.

  python3 bmc.py --listen 127.0.0.1:8443 --cert C --key K --user U --password-file F \
      --state-dir DIR --log FILE -- qemu-system-x86_64 ...
"""

import argparse
import base64
import hmac
import json
import signal
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SYSTEM = "/redfish/v1/Systems/e2e"
RESET = SYSTEM + "/Actions/ComputerSystem.Reset"
RESET_TYPES = ["On", "ForceOff", "ForceRestart", "PowerCycle"]
BOOT_TARGETS = ["None", "Pxe", "Hdd"]


class Machine:
    """QEMU as a machine with a power button: one process per power-on."""

    def __init__(self, command, state_dir, log):
        self.command = command
        self.state_dir = state_dir
        self.log = log
        self.lock = threading.Lock()
        self.process = None
        self.boot = 0
        self.exit_status = None
        self.override_target = "None"
        self.override_enabled = "Disabled"

    def power_state(self):
        with self.lock:
            return "On" if self.process is not None and self.process.poll() is None else "Off"

    def _start(self):
        first = self.override_target if self.override_enabled != "Disabled" else "None"
        if self.override_enabled == "Once":
            self.override_target, self.override_enabled = "None", "Disabled"
        net, disk = (2, 1) if first == "Hdd" else (1, 2)
        self.boot += 1
        self.exit_status = None
        args = [part.format(boot=self.boot, net=net, disk=disk) for part in self.command]
        output = open(f"{self.state_dir}/qemu-{self.boot}.log", "wb")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
        output.close()
        with open(f"{self.state_dir}/qemu.pid", "w") as pid:
            pid.write(f"{self.process.pid}\n")
        self.log(f"power on: boot {self.boot}, QEMU pid {self.process.pid}, "
                 f"first boot device {'disk' if first == 'Hdd' else 'network'}"
                 + (f" (boot override {first})" if first != "None" else ""))
        threading.Thread(target=self._watch, args=(self.process, self.boot), daemon=True).start()

    def _watch(self, process, boot):
        status = process.wait()
        with self.lock:
            if boot == self.boot:
                self.exit_status = status
        self.log(f"power off: boot {boot} ended, QEMU status {status}")

    def _stop(self):
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def reset(self, reset_type):
        with self.lock:
            on = self.process is not None and self.process.poll() is None
            if reset_type == "On":
                if not on:
                    self._start()
            elif reset_type == "ForceOff":
                self._stop()
            else:  # ForceRestart, PowerCycle: off if on, then on
                self._stop()
                self._start()

    def set_override(self, target, enabled):
        with self.lock:
            if target is not None:
                self.override_target = target
            if enabled is not None:
                self.override_enabled = enabled
            self.log(f"boot override: {self.override_target} ({self.override_enabled})")

    def shutdown(self):
        with self.lock:
            self._stop()

    def resource(self):
        state = self.power_state()
        with self.lock:
            return {
                "@odata.id": SYSTEM,
                "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
                "Id": "e2e",
                "Name": "dploy e2e machine",
                "Manufacturer": "QEMU",
                "Model": "Standard PC (i440FX + PIIX, 1996)",
                "PowerState": state,
                "Boot": {
                    "BootSourceOverrideTarget": self.override_target,
                    "BootSourceOverrideEnabled": self.override_enabled,
                    "BootSourceOverrideTarget@Redfish.AllowableValues": BOOT_TARGETS,
                },
                "Actions": {"#ComputerSystem.Reset": {"target": RESET, "ResetType@Redfish.AllowableValues": RESET_TYPES}},
                "Oem": {"DployE2E": {"Boot": self.boot, "ExitStatus": self.exit_status,
                                     "Console": f"console-{self.boot}.log" if self.boot else None}},
            }


def handler(machine, user, password, log):
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "dploy-e2e-bmc"

        def log_message(self, format, *args):  # the access log, in the BMC's own log
            log(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}")

        def reply(self, status, body=None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("OData-Version", "4.0")
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message):
            self.reply(status, {"error": {"code": "Base.1.8.GeneralError", "message": message}})

        def authorized(self):
            if hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="e2e-bmc"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return None

        def path_is(self, path):
            return self.path.split("?")[0].rstrip("/").lower() == path.lower()

        def do_GET(self):
            if self.path_is("/redfish/v1"):  # unauthenticated, as Redfish says
                return self.reply(200, {"@odata.id": "/redfish/v1", "Id": "RootService", "RedfishVersion": "1.11.0",
                                        "Systems": {"@odata.id": "/redfish/v1/Systems"}})
            if not self.authorized():
                return
            if self.path_is("/redfish/v1/Systems"):
                return self.reply(200, {"@odata.id": "/redfish/v1/Systems", "Members@odata.count": 1,
                                        "Members": [{"@odata.id": SYSTEM}]})
            if self.path_is(SYSTEM):
                return self.reply(200, machine.resource())
            self.error(404, f"no resource {self.path}")

        def do_PATCH(self):
            if not self.authorized():
                return
            if not self.path_is(SYSTEM):
                return self.error(405, f"{self.path} cannot be patched")
            body = self.body()
            boot = body.get("Boot") if isinstance(body, dict) else None
            if not isinstance(boot, dict) or set(boot) - {"BootSourceOverrideTarget", "BootSourceOverrideEnabled"}:
                return self.error(400, "only Boot.BootSourceOverrideTarget and BootSourceOverrideEnabled can be set")
            target, enabled = boot.get("BootSourceOverrideTarget"), boot.get("BootSourceOverrideEnabled")
            if target is not None and target not in BOOT_TARGETS:
                return self.error(400, f"BootSourceOverrideTarget {target!r} is not one of {BOOT_TARGETS}")
            if enabled is not None and enabled not in ("Disabled", "Once", "Continuous"):
                return self.error(400, f"BootSourceOverrideEnabled {enabled!r} is not Disabled, Once or Continuous")
            machine.set_override(target, enabled)
            self.reply(204)

        def do_POST(self):
            if not self.authorized():
                return
            if not self.path_is(RESET):
                return self.error(404, f"no action {self.path}")
            body = self.body()
            reset_type = body.get("ResetType") if isinstance(body, dict) else None
            if reset_type not in RESET_TYPES:
                return self.error(400, f"ResetType {reset_type!r} is not one of {RESET_TYPES}")
            log(f"reset: {reset_type}")
            machine.reset(reset_type)
            self.reply(204)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--state-dir", required=True, help="QEMU's output per boot and qemu.pid go here")
    parser.add_argument("--log", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- and QEMU's command line")
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("QEMU's command line is missing after --")
    password = open(options.password_file).read().strip()

    log_file = open(options.log, "a", buffering=1)
    log_lock = threading.Lock()

    def log(message):
        with log_lock:
            log_file.write(f"{time.strftime('%H:%M:%S')} bmc: {message}\n")

    machine = Machine(command, options.state_dir, log)
    host, port = options.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), handler(machine, options.user, password, log))
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(options.cert, options.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"listening on https://{options.listen}")
    try:
        server.serve_forever()
    finally:
        machine.shutdown()  # the machine goes when its BMC goes: nothing is left running
        log("stopped")


if __name__ == "__main__":
    sys.exit(main())
