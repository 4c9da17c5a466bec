#!/usr/bin/env python3
"""`make bench`: how long `dploy validate` takes on a generated fleet, next to PyYAML's C
loader (libyaml) parsing the same files in the same run.

Reports the median of several runs and the peak memory of dploy. Figures, not verdicts:
nothing here fails on a slow machine.
"""
import argparse
import glob
import os
import resource
import statistics
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import generate  # noqa: E402


def time_dploy(dploy, folder, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run([dploy, "validate", folder], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"dploy validate failed:\n{result.stderr[:2000]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return times, peak_kib, result.stdout.strip()


def time_pyyaml(folder, runs):
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        sys.exit("PyYAML was built without libyaml (no CSafeLoader); install libyaml-dev and reinstall PyYAML")
    paths = sorted(glob.glob(os.path.join(folder, "**", "*.yaml"), recursive=True))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        documents = 0
        for path in paths:
            with open(path, "rb") as f:
                documents += sum(1 for _ in yaml.load_all(f, Loader=loader))
        times.append(time.perf_counter() - start)
    return times, documents


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dploy", required=True)
    parser.add_argument("--dploy-bench", help="the dploy-bench binary, for the git source figures")
    parser.add_argument("--machines", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    folder = os.path.join(os.path.dirname(__file__), "out", f"fleet-{args.machines}")
    if not os.path.isdir(folder):
        generate.generate(args.machines, folder)
    files = len(glob.glob(os.path.join(folder, "**", "*.yaml"), recursive=True))
    size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(folder, "**", "*.yaml"), recursive=True))

    dploy_times, peak_kib, summary = time_dploy(args.dploy, folder, args.runs)
    yaml_times, documents = time_pyyaml(folder, args.runs)
    dploy_median, yaml_median = statistics.median(dploy_times), statistics.median(yaml_times)

    print(f"fleet: {args.machines} machines, {documents} documents, {files} files, {size / 1e6:.1f} MB")
    print(f"dploy validate: {summary}")
    print(f"dploy validate (load + validate, whole process): median {dploy_median * 1000:.0f} ms "
          f"over {args.runs} runs (min {min(dploy_times) * 1000:.0f}, max {max(dploy_times) * 1000:.0f}); "
          f"peak RSS {peak_kib / 1024:.0f} MiB")
    print(f"PyYAML CSafeLoader (parse only, no validation): median {yaml_median * 1000:.0f} ms")
    print(f"ratio dploy / PyYAML-C: {dploy_median / yaml_median:.2f}")
    if args.dploy_bench:
        sys.stdout.flush()
        subprocess.run([args.dploy_bench, folder], check=True)


if __name__ == "__main__":
    main()
