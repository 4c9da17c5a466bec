#!/usr/bin/env bash
# Prints dploy's version, as a Debian version string, from git:
#   tag v1.2.3 on HEAD          -> 1.2.3
#   7 commits after v1.2.3      -> 1.2.3+git7.abc1234   (sorts after 1.2.3)
#   no tag at all               -> 0.1.0~git42.abc1234  (sorts before 0.1.0; 42 = commits)
#   tracked files modified      -> the above + .dirty
#   not a git checkout          -> 0.1.0~unknown
# DPLOY_VERSION overrides all of it. The same string is what `dploy --version` prints.
set -euo pipefail
cd "$(dirname "$0")/.."

base=0.1.0  # the version before the first tag; keep in step with Sources/dploy/DployVersion.swift
if [ -n "${DPLOY_VERSION:-}" ]; then
    # A Debian version (no epoch, no revision): it also goes into a Swift string literal.
    if ! [[ $DPLOY_VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
        echo "DPLOY_VERSION='$DPLOY_VERSION' is not a version: digits first, then letters, digits, . + ~" >&2
        exit 1
    fi
    echo "$DPLOY_VERSION"; exit 0
fi
if ! git rev-parse -q --verify HEAD >/dev/null 2>&1; then echo "$base~unknown"; exit 0; fi

hash=$(git rev-parse --short=7 HEAD)
if described=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
    # v1.2.3-7-gabc1234 (tags may hold dashes: split from the right)
    count=${described%-g*}; count=${count##*-}
    tag=${described%-*-g*}; tag=${tag#v}
    if [ "$count" = 0 ]; then version=$tag; else version="$tag+git$count.$hash"; fi
else
    version="$base~git$(git rev-list --count HEAD).$hash"
fi
# Untracked files do not count: only what a release build reads from git.
if ! git diff --quiet HEAD -- 2>/dev/null; then version="$version.dirty"; fi
echo "$version"
