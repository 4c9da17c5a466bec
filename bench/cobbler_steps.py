"""Cobbler's half of `make bench-cobbler`, run by bench/vs_cobbler.py with Cobbler's own venv
inside a private mount namespace (overlays over /etc, /var and /srv whose changes land in
bench/out): what a Cobbler user does for the steps of issue 20's table, timed in one process.

    python cobbler_steps.py SYSTEMS_JSON TFTPBOOT RUNS CHANGED_NAME

SYSTEMS_JSON lists the generated fleet's machines (name, mac, ip, hostname), the same ones
dploy applies. Prints one JSON object on its last line: the timings in seconds, peak RSS,
and counts of what the syncs wrote, so the driver can check they did the work.
"""
import json
import os
import resource
import sys
import time

from cobbler.api import CobblerAPI


def timed(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main():
    systems_path, tftpboot, runs, changed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(systems_path) as f:
        systems = json.load(f)
    api = CobblerAPI()

    # One distro and one profile, as a Cobbler user has before adding systems: the kernel and
    # initrd are placeholders (Cobbler copies them into the TFTP tree on every sync).
    images = os.path.join(os.path.dirname(systems_path), "images")
    os.makedirs(images, exist_ok=True)
    for name in ("vmlinuz", "initrd.img"):
        with open(os.path.join(images, name), "wb") as f:
            f.write(bytes(1024))
    distro = api.new_distro()
    distro.name = "rhel9"
    distro.breed = "redhat"
    distro.os_version = "rhel9"
    distro.arch = "x86_64"
    distro.kernel = os.path.join(images, "vmlinuz")
    distro.initrd = os.path.join(images, "initrd.img")
    api.add_distro(distro, with_sync=False)
    profile = api.new_profile()
    profile.name = "rhel9"
    profile.distro = "rhel9"
    api.add_profile(profile, with_sync=False)

    def add_all():
        for machine in systems:
            system = api.new_system()
            system.name = machine["name"]
            system.profile = "rhel9"
            system.hostname = machine["hostname"]
            system.netboot_enabled = True
            system.modify_interface({
                "macaddress-default": machine["mac"],
                "ipaddress-default": machine["ip"],
                "netmask-default": "255.254.0.0",
                "dnsname-default": machine["hostname"],
            })
            system.gateway = "198.18.0.1"
            api.add_system(system, with_sync=False, with_triggers=False)

    result = {"add": timed(add_all)}
    result["cold"] = timed(api.sync)
    result["again"] = [timed(api.sync) for _ in range(runs)]

    # One machine's address changes, as `cobbler system edit --ip-address` does it: the edit
    # saved with its default sync of that system (`sync_systems`, which rewrites that
    # system's boot files and the whole dhcpd.conf).
    def change(address):
        system = api.find_system(name=changed)
        system.modify_interface({"ipaddress-default": address})
        api.add_system(system)

    addresses = [f"198.18.250.{1 + run % 2}" for run in range(runs)]
    result["one"] = [timed(lambda a=address: change(a)) for address in addresses]
    with open("/etc/dhcp/dhcpd.conf") as f:
        dhcpd = f.read()
    result["changed_in_dhcpd"] = f"fixed-address {addresses[-1]};" in dhcpd
    result["dhcpd_hosts"] = dhcpd.count("host ")
    result["pxelinux_files"] = len(os.listdir(os.path.join(tftpboot, "pxelinux.cfg")))
    result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


if __name__ == "__main__":
    main()
