#!/usr/bin/env python3
"""`make bench-cobbler`: dploy and Cobbler 3.3.10 on the same generated fleet, in one run.

The table of issue 20, as ratios: every file from nothing, the same again with nothing
changed, one machine's IP changed, and peak RSS. ISC dhcpd output on both sides; no DHCP
server is checked or reloaded by either (dploy's `dhcp.check` is `true`, Cobbler's
`restart_dhcp` false), and neither talks to a BMC.

dploy: the release binary, `dploy apply --auto-approve` from a folder of specs, each step a
process of its own (as an operator runs it), configured as a site running `dploy serve` is
(server.listen, tftp.listen): dploy answers the per-machine iPXE, pxelinux and GRUB configs
itself and writes none of them. The cold step is measured again with `output.snapshots: true`,
every per-machine boot file written as Cobbler writes them for its TFTP server. Cobbler: its Python API in one process
(`cobbler_steps.py`), as its CLI and cobblerd call it, with the settings and templates of
its own sdist, installed from PyPI into a venv under bench/out/cobbler (only when this runs,
never by `make test`).

Nothing outside bench/out is touched. Cobbler hard-codes /etc/cobbler, /var/lib/cobbler,
/var/log/cobbler and /etc/dhcp/dhcpd.conf: it runs under `unshare -m` with overlays over
/etc, /var and /srv whose upper layers are folders in bench/out, so what it writes there
lands in bench/out and vanishes from view when the process ends. Needs root (the mount
namespace), rsync (Cobbler's sync runs it) and network access for the first pip install.

Figures, not verdicts: nothing here fails on a slow machine. Cobbler's run-to-run noise is
large (see /work/shared/notes/cobbler-bench.md): medians of --runs runs.
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import generate  # noqa: E402

COBBLER_VERSION = "3.3.10"
# What Cobbler's sync imports that its wheel does not pull in once mod_wsgi and python-ldap,
# which need Apache's and OpenLDAP's headers and are not imported on these paths, are left out.
COBBLER_DEPENDENCIES = ["requests", "pyyaml", "netaddr", "Cheetah3", "distro", "dnspython", "file-magic", "schema", "pymongo"]
HERE = os.path.dirname(os.path.abspath(__file__))
CHANGED = 5000  # the machine whose IP changes (or the middle one of a smaller fleet)


def run(command, **kwargs):
    return subprocess.run(command, check=True, **kwargs)


def ensure_cobbler(home):
    """Cobbler's venv and its sdist (settings, templates, snippets: the wheel has only the
    Python package), made once and reused."""
    venv = os.path.join(home, "venv")
    python = os.path.join(venv, "bin", "python3")
    sdist = os.path.join(home, "sdist", f"cobbler-{COBBLER_VERSION}")
    marker = os.path.join(home, f"installed-{COBBLER_VERSION}")
    if os.path.exists(marker):
        return python, sdist
    print(f"installing Cobbler {COBBLER_VERSION} into {venv} (once)", flush=True)
    run(["python3", "-m", "venv", venv])
    pip = [python, "-m", "pip", "-q", "--disable-pip-version-check"]
    run(pip + ["install", *COBBLER_DEPENDENCIES])
    run(pip + ["install", "--no-deps", f"cobbler=={COBBLER_VERSION}"])
    # The sdist itself, not built: only cobbler from source (--no-binary :all: would also
    # build its build tools, sphinx and all, from source).
    run(pip + ["download", "--no-deps", "--no-binary", "cobbler", f"cobbler=={COBBLER_VERSION}",
               "-d", os.path.join(home, "sdist")])
    run(["tar", "-xzf", os.path.join(home, "sdist", f"cobbler-{COBBLER_VERSION}.tar.gz"), "-C", os.path.join(home, "sdist")])
    open(marker, "w").close()
    return python, sdist


def copy_files(pattern, folder):
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(pattern):
        if os.path.isfile(path):
            shutil.copy(path, folder)


def lay_out_cobbler(sdist, root):
    """The files Cobbler's setup.py installs, laid out in the upper layers of the overlays
    (ROOT/upper/etc becomes /etc inside the namespace, and so on), with the settings a
    DHCP-managing, iPXE-enabled Cobbler has and every path it may write inside ROOT."""
    etc, lib = os.path.join(root, "upper/etc/cobbler"), os.path.join(root, "upper/var/lib/cobbler")
    tftpboot, www = os.path.join(root, "tftpboot"), os.path.join(root, "www")
    for name in ("auth.conf", "modules.conf", "mongodb.conf", "users.conf", "users.digest"):
        copy_files(os.path.join(sdist, "config/cobbler", name), etc)
    copy_files(os.path.join(sdist, "config/version"), etc)
    copy_files(os.path.join(sdist, "config/cheetah/cheetah_macros"), etc)
    copy_files(os.path.join(sdist, "config/rsync/*"), etc)
    copy_files(os.path.join(sdist, "config/cobbler/settings.d/*"), os.path.join(etc, "settings.d"))
    copy_files(os.path.join(sdist, "templates/etc/*.template"), etc)
    for folder in ("iso", "boot_loader_conf", "reporting"):
        copy_files(os.path.join(sdist, "templates", folder, "*"), os.path.join(etc, folder))
    copy_files(os.path.join(sdist, "autoinstall_templates/*"), os.path.join(lib, "templates"))
    copy_files(os.path.join(sdist, "autoinstall_templates/install_profiles/*"), os.path.join(lib, "templates/install_profiles"))
    shutil.copytree(os.path.join(sdist, "autoinstall_snippets"), os.path.join(lib, "snippets"))
    copy_files(os.path.join(sdist, "autoinstall_scripts/*"), os.path.join(lib, "scripts"))
    copy_files(os.path.join(sdist, "config/cobbler/distro_signatures.json"), lib)
    copy_files(os.path.join(sdist, "config/grub/*"), os.path.join(lib, "grub_config"))
    copy_files(os.path.join(sdist, "config/grub/grub/*"), os.path.join(lib, "grub_config/grub"))
    for folder in ("loaders", "grub_config/grub/system", "grub_config/grub/system_link"):
        os.makedirs(os.path.join(lib, folder), exist_ok=True)
    for kind in ("distro", "profile", "system", "repo", "mgmtclass", "package", "file", "menu", "image"):
        for when in ("pre", "post"):
            for action in ("add", "delete"):
                os.makedirs(os.path.join(lib, "triggers", action, kind, when), exist_ok=True)
    for folder in ("triggers/change", "triggers/sync/pre", "triggers/sync/post", "triggers/install/pre",
                   "triggers/install/post", "triggers/task"):
        os.makedirs(os.path.join(lib, folder), exist_ok=True)
    for kind in ("distros", "profiles", "systems", "repos", "mgmtclasses", "packages", "files", "menus", "images"):
        os.makedirs(os.path.join(lib, "collections", kind), exist_ok=True)
    os.makedirs(os.path.join(root, "upper/var/log/cobbler/tasks"), exist_ok=True)
    os.makedirs(os.path.join(root, "upper/etc/dhcp"), exist_ok=True)
    for folder in ("boot", "etc", "grub/system", "grub/system_link", "images", "images2", "ppc", "s390x",
                   "pxelinux.cfg", "ipxe"):
        os.makedirs(os.path.join(tftpboot, folder), exist_ok=True)
    os.makedirs(os.path.join(www, "cobbler"), exist_ok=True)

    with open(os.path.join(sdist, "config/cobbler/settings.yaml")) as f:
        settings = f.read()
    # setup.py's build-time placeholders: folders inside ROOT (the loader folders stay
    # empty, which only skips copying loader binaries, never the generated files).
    settings = settings.replace("@@tftproot@@", tftpboot).replace("@@webroot@@", www)
    settings = re.sub(r"@@(\w+)@@", lambda m: os.path.join(root, "none", m.group(1)), settings)
    changes = {"manage_dhcp": "true", "manage_dhcp_v4": "true", "restart_dhcp": "false", "enable_ipxe": "true",
               "next_server_v4": "198.18.0.1", "server": "198.18.0.1",
               "buildisodir": f'"{os.path.join(root, "buildiso")}"'}
    for key, value in changes.items():
        settings, count = re.subn(rf"^{key}:.*$", f"{key}: {value}", settings, flags=re.M)
        if count != 1:
            sys.exit(f"Cobbler's settings.yaml has {count} lines for {key}; this harness expects one")
    with open(os.path.join(etc, "settings.yaml"), "w") as f:
        f.write(settings)
    # The template's sample subnet, replaced by the fleet's (generate.py: 198.18.0.0/15).
    template = os.path.join(etc, "dhcp.template")
    with open(template) as f:
        text = f.read()
    text = text.replace("subnet 192.168.1.0 netmask 255.255.255.0", "subnet 198.18.0.0 netmask 255.254.0.0")
    text = text.replace("192.168.1.5", "198.18.0.1").replace("192.168.1.1;", "198.18.0.1;")
    text = text.replace("range dynamic-bootp        192.168.1.100 192.168.1.254", "range dynamic-bootp 198.19.254.1 198.19.254.254")
    with open(template, "w") as f:
        f.write(text)
    return tftpboot


def run_cobbler(python, sdist, root, systems_path, runs, changed):
    tftpboot = lay_out_cobbler(sdist, root)
    mounts = []
    for target in ("/etc", "/var", "/srv"):
        upper, work = os.path.join(root, "upper" + target), os.path.join(root, "work" + target)
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        mounts.append(f"mount -t overlay overlay -o lowerdir={target},upperdir={upper},workdir={work} {target}")
    # The namespace's mounts are private (unshare's default propagation): none is seen
    # outside, and all go with the process.
    script = " && ".join(mounts) + f' && exec "$@"'
    worker = os.path.join(HERE, "cobbler_steps.py")
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                             python, worker, systems_path, tftpboot, str(runs), changed],
                            capture_output=True, text=True, cwd=root)
    if result.returncode != 0:
        sys.exit(f"Cobbler's run failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def dploy_apply(dploy, config):
    """One `dploy apply` process: its wall time, peak RSS (KiB) and output."""
    with open(os.path.join(os.path.dirname(config), "apply.log"), "w+") as log:
        start = time.perf_counter()
        process = subprocess.Popen([dploy, "apply", "--auto-approve", "--no-color", "--config", config],
                                   stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    if process.returncode != 0:
        sys.exit(f"dploy apply failed:\n{output[-4000:]}")
    return elapsed, usage.ru_maxrss, output


def set_ip(fleet, name, address):
    """Changes one machine's `ip:` line in its rack file, as an operator's edit would."""
    for path in glob.glob(os.path.join(fleet, "machines", "*.yaml")):
        with open(path) as f:
            text = f.read()
        marker = f"  name: {name}\n"
        if marker not in text:
            continue
        start = text.index(marker)
        ip = text.index("  ip: ", start)
        end = text.index("\n", ip)
        with open(path, "w") as f:
            f.write(text[:ip] + f"  ip: {address}" + text[end:])
        return
    sys.exit(f"no machine {name} in {fleet}")


def run_dploy(dploy, fleet, work, runs, changed, snapshots=False, cold_only=False):
    """dploy's steps. As a site runs it by default, `dploy serve` answers the iPXE, pxelinux
    and GRUB configs itself (server.listen, tftp.listen), so apply writes the installer
    answers and DHCP; with `snapshots`, every per-machine boot file as well, as for a site
    whose own TFTP and HTTP servers serve them (what Cobbler writes)."""
    os.makedirs(work, exist_ok=True)
    config = os.path.join(work, "dploy.yaml")
    with open(config, "w") as f:
        f.write(f"source: {{path: {fleet}}}\nstore: {{sqlite: state/dploy.db}}\n"
                f"output: {{http: out/http, tftp: out/tftp, snapshots: {'true' if snapshots else 'false'}}}\n"
                'dhcp: {backend: isc, config: out/dhcp/dhcpd.conf, check: "true"}\n'
                'server: {url: "http://198.18.0.1:8080", listen: "198.18.0.1:8080"}\n'
                'tftp: {listen: "198.18.0.1:69"}\n')

    def fresh():
        for folder in ("state", "out"):
            shutil.rmtree(os.path.join(work, folder), ignore_errors=True)

    peak = 0

    def apply(expect_written):
        nonlocal peak
        elapsed, rss, output = dploy_apply(dploy, config)
        peak = max(peak, rss)
        written = re.search(r"Apply complete: (\d+) files? written", output)
        count = int(written.group(1)) if written else 0
        if not expect_written(count):
            sys.exit(f"dploy apply wrote {count} files, not what this step expects:\n{output[-2000:]}")
        return elapsed

    cold = []
    for _ in range(runs):
        fresh()
        cold.append(apply(lambda n: n > 0))
    if cold_only:
        return {"cold": cold, "peak_rss_kib": peak}
    again = [apply(lambda n: n == 0) for _ in range(runs)]
    one = []
    for run_ in range(runs):
        set_ip(fleet, changed, f"198.18.250.{1 + run_ % 2}")
        one.append(apply(lambda n: 1 <= n <= 3))
    with open(os.path.join(work, "out/dhcp/dhcpd.conf")) as f:
        if f"198.18.250.{1 + (runs - 1) % 2}" not in f.read():
            sys.exit("dploy's dhcpd.conf does not carry the changed address")
    return {"cold": cold, "again": again, "one": one, "peak_rss_kib": peak}


def systems_of(fleet):
    """The generated machines as Cobbler takes them: read from the same spec files dploy reads."""
    systems = []
    for path in sorted(glob.glob(os.path.join(fleet, "machines", "*.yaml"))):
        with open(path) as f:
            for doc in yaml.load_all(f, Loader=yaml.CSafeLoader):
                if doc and doc.get("kind") == "Machine":
                    spec = doc["spec"]
                    systems.append({"name": doc["metadata"]["name"], "mac": spec["mac"], "ip": spec["ip"],
                                    "hostname": spec["hostname"]})
    return systems


def median(values):
    return statistics.median(values) if isinstance(values, list) else values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dploy", required=True)
    parser.add_argument("--machines", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each step (medians are printed)")
    parser.add_argument("--dploy-only", action="store_true", help="dploy's steps alone, for before/after figures")
    parser.add_argument("--work", help="the folder both tools write in (default bench/out/compare-N): another filesystem "
                                       "(a fresh ext4) shows how much of cold is the filesystem's inode allocator")
    args = parser.parse_args()
    if not args.dploy_only and os.geteuid() != 0:
        sys.exit("bench-cobbler needs root: Cobbler runs in a mount namespace whose overlays keep its hard-coded paths inside bench/out")
    if not args.dploy_only and shutil.which("rsync") is None:
        sys.exit("Cobbler's sync runs rsync, which is missing: apt-get install rsync (or bash .ci/setup bench)")

    out = os.path.join(HERE, "out")
    # Its own folder per mode, so a quick --dploy-only run never pulls files from under a full one.
    work = args.work or os.path.join(out, f"compare-{args.machines}" + ("-dploy" if args.dploy_only else ""))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    # No tasks: dploy would run them on apply (SSH, power) against addresses that exist nowhere.
    fleet = os.path.join(work, "fleet")
    generate.generate(args.machines, fleet, tasks=False)
    systems = systems_of(fleet)
    changed = systems[min(CHANGED, len(systems) // 2)]["name"]
    systems_path = os.path.join(work, "systems.json")
    with open(systems_path, "w") as f:
        json.dump(systems, f)

    print(f"fleet: {len(systems)} machines (bench/generate.py), ISC dhcpd output, {args.runs} runs per step", flush=True)
    dploy = run_dploy(os.path.abspath(args.dploy), fleet, os.path.join(work, "dploy"), args.runs, changed)
    print("dploy: " + ", ".join(f"{k} {median(v):.3f} s" for k, v in dploy.items() if k != "peak_rss_kib")
          + f", peak RSS {dploy['peak_rss_kib'] / 1024:.0f} MiB", flush=True)
    written = run_dploy(os.path.abspath(args.dploy), fleet, os.path.join(work, "dploy-snapshots"), args.runs, changed,
                        snapshots=True, cold_only=True)
    print("dploy, output.snapshots: true (every per-machine boot file written too): "
          + ", ".join(f"{k} {median(v):.3f} s" for k, v in written.items() if k != "peak_rss_kib")
          + f", peak RSS {written['peak_rss_kib'] / 1024:.0f} MiB", flush=True)
    if args.dploy_only:
        return
    python, sdist = ensure_cobbler(os.path.join(out, "cobbler"))
    started = time.perf_counter()
    cobbler = run_cobbler(python, sdist, os.path.join(work, "cobbler"), systems_path, args.runs, changed)
    print(f"Cobbler: add {cobbler['add']:.1f} s (not compared: dploy reads the specs as it applies), "
          f"whole run {time.perf_counter() - started:.0f} s", flush=True)
    if not cobbler["changed_in_dhcpd"]:
        sys.exit("Cobbler's dhcpd.conf does not carry the changed address")
    if cobbler["pxelinux_files"] < len(systems):
        sys.exit(f"Cobbler wrote {cobbler['pxelinux_files']} pxelinux files for {len(systems)} machines")

    rows = [("cold: all files from nothing", "full sync", "cold"),
            ("nothing changed", "sync again", "again"),
            ("one machine's IP changed", "edit + sync of it", "one")]
    print()
    print(f"| step ({len(systems)} machines) | Cobbler {COBBLER_VERSION} | `dploy apply` (one-shot) | ratio |")
    print("|---|---|---|---|")
    for label, what, key in rows:
        c, d = median(cobbler[key]), median(dploy[key])
        print(f"| {label} | {what} {c:.2f} s | {d:.3f} s | {c / d:.1f}× |")
    c, d = median(cobbler["cold"]), median(written["cold"])
    print(f"| cold, with every per-machine boot file (`output.snapshots: true`) | full sync {c:.2f} s | {d:.3f} s | {c / d:.1f}× |")
    c_rss, d_rss = cobbler["peak_rss_kib"] / 1024, dploy["peak_rss_kib"] / 1024
    print(f"| peak RSS | {c_rss:.0f} MiB | {d_rss:.0f} MiB | {c_rss / d_rss:.1f}× |")


if __name__ == "__main__":
    main()
