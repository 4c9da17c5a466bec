#!/usr/bin/env python3
"""Writes a deterministic fleet of N machines for `make bench`.

Same N, same bytes, on every machine: no randomness, no clock. Machines come forty to
a rack file, as operators tend to write them, with groups by role, two profiles, two
firmware baselines and two tasks. Addresses are in 198.18.0.0/15, the range RFC 2544
sets aside for benchmarks; nothing is ever sent to them.
"""
import argparse
import hashlib
import os

ROLES = ["web", "db", "cache", "batch"]
PER_RACK = 40


def machine(i):
    role = ROLES[i % len(ROLES)]
    rack = i // PER_RACK
    ip = f"198.{18 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
    bmc = f"198.{19 - (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
    mac = "94:18:82:" + ":".join(f"{(i >> s) & 255:02x}" for s in (16, 8, 0))
    extra = ""
    if i % 10 == 0:
        extra += "  generation: 2\n"
    if i % 7 == 0:
        extra += "  kernelArgs: \"console=ttyS1,115200n8\"\n"
    return (
        "apiVersion: dploy.org/v1\n"
        "kind: Machine\n"
        "metadata:\n"
        f"  name: node-{i:05d}\n"
        f"  labels: {{role: {role}, rack: r{rack:03d}}}\n"
        "spec:\n"
        f"  mac: \"{mac}\"\n"
        f"  ip: {ip}\n"
        f"  hostname: node-{i:05d}.bench.example.net\n"
        f"  bmc: {{address: \"https://{bmc}\"}}\n"
        f"{extra}"
    )


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def shared_documents(tasks=True):
    docs = []
    for role in ROLES:
        profile = "rocky-9" if role == "db" else "debian-12"
        docs.append(
            "apiVersion: dploy.org/v1\nkind: Group\n"
            f"metadata: {{name: {role}}}\n"
            f"spec:\n  selector: {{role: {role}}}\n"
            f"  defaults: {{profile: {profile}, firmware: gen10-2026-10, power: \"on\", disk: /dev/sda,"
            f" bmc: {{credentials: ilo-{role}}}}}\n"
        )
    for name, kind in (("debian-12", "preseed"), ("rocky-9", "kickstart")):
        docs.append(
            "apiVersion: dploy.org/v1\nkind: Profile\n"
            f"metadata: {{name: {name}}}\n"
            "spec:\n  loader: ipxe\n  boot:\n"
            f"    kernel: http://198.18.0.1:8080/files/{name}/linux\n"
            f"    initrd: http://198.18.0.1:8080/files/{name}/initrd.img\n"
            f"  installer: {{kind: {kind}, template: templates/{name}.mustache}}\n"
        )
    for name in ("gen10-2026-10", "gen11-2026-10"):
        docs.append(
            "apiVersion: dploy.org/v1\nkind: FirmwareBaseline\n"
            f"metadata: {{name: {name}}}\n"
            "spec:\n  models: [\"ProLiant DL360 Gen10\", \"ProLiant DL380 Gen10\"]\n  components:\n"
            f"    - {{name: System ROM, version: \"2.90\", image: \"http://198.18.0.1:8080/fw/{name}-rom.fwpkg\","
            f" sha256: {digest(name + 'rom')}}}\n"
            f"    - {{name: iLO, version: \"3.08\", image: \"http://198.18.0.1:8080/fw/{name}-ilo.fwpkg\","
            f" sha256: {digest(name + 'ilo')}}}\n"
        )
    if not tasks:
        return docs
    docs.append(
        "apiVersion: dploy.org/v1\nkind: Task\nmetadata: {name: motd}\n"
        "spec:\n  targets: {groups: [web]}\n"
        "  ssh: {command: \"echo managed by dploy > /etc/motd\", credentials: web-ssh}\n"
        "  concurrency: 20\n  timeout: 60s\n"
    )
    docs.append(
        "apiVersion: dploy.org/v1\nkind: Task\nmetadata: {name: cycle-r000}\n"
        "spec:\n  targets: {selector: {rack: r000}}\n  power: cycle\n"
    )
    return docs


def generate(machines, out, tasks=True):
    os.makedirs(os.path.join(out, "machines"), exist_ok=True)
    os.makedirs(os.path.join(out, "templates"), exist_ok=True)
    for rack_start in range(0, machines, PER_RACK):
        rack = rack_start // PER_RACK
        docs = [machine(i) for i in range(rack_start, min(machines, rack_start + PER_RACK))]
        with open(os.path.join(out, "machines", f"rack-r{rack:03d}.yaml"), "w") as f:
            f.write("---\n".join(docs))
    with open(os.path.join(out, "shared.yaml"), "w") as f:
        f.write("---\n".join(shared_documents(tasks)))
    for name in ("debian-12", "rocky-9"):
        with open(os.path.join(out, "templates", f"{name}.mustache"), "w") as f:
            f.write("# {{hostname}}\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=10000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    generate(args.machines, args.out)
