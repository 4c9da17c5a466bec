#!/usr/bin/env bash
# Builds the release dploy for the Debian package, with the version from git stamped in,
# without touching the working tree:
#   1. copy the tracked files (as they are in the working tree) to .build-deb/src,
#      keeping their modification times, so the next run recompiles only what changed;
#   2. stamp the version from version.sh into Sources/dploy/DployVersion.swift there
#      (written only when it differs, so an unchanged version recompiles nothing);
#   3. swift build -c release --static-swift-stdlib there, scratch path .build-deb/release-build
#      (kept between runs, so the next `make deb` rebuilds only what changed).
# The working tree keeps the committed DployVersion.swift ("0.1.0-dev"), so a fresh clone's
# `swift build` needs nothing generated. Prints the path of the built binary on stdout.
#   SWIFT=swift  BUILD_FLAGS=...  DPLOY_VERSION=... (override the version)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SWIFT=${SWIFT:-swift}
stage=$root/.build-deb/src
scratch=$root/.build-deb/release-build
version=$(packaging/version.sh)
version_file=Sources/dploy/DployVersion.swift

mkdir -p "$stage" "$scratch"
# Tracked files that exist (a deleted, uncommitted file is skipped), except the version file.
git ls-files -z | while IFS= read -r -d '' f; do
    [ "$f" != "$version_file" ] && [ -f "$f" ] && printf '%s\0' "$f"
done > "$root/.build-deb/files"
tar --null -T "$root/.build-deb/files" -cf - | tar -xf - -C "$stage"
# Files removed from git since the last run must not linger in the copy.
(cd "$stage" && find . -path ./.build -prune -o -type f -print0) | while IFS= read -r -d '' f; do
    f=${f#./}
    case "$f" in "$version_file"|Package.resolved) continue ;; esac
    grep -qzxF -- "$f" "$root/.build-deb/files" || rm -f "$stage/$f"
done
# Resolve to the same dependency versions as the working tree, when it has resolved them.
if [ -f Package.resolved ] && ! cmp -s Package.resolved "$stage/Package.resolved"; then
    cp -p Package.resolved "$stage/Package.resolved"
fi

# The committed file with only the value of `static let current` replaced, so whatever
# else it holds stays as written.
generated=$(sed -E "s/^([[:space:]]*static let current = )\".*\"/\1\"$version\"/" "$version_file")
if ! grep -qF "static let current = \"$version\"" <<<"$generated"; then
    echo "$version_file has no 'static let current = \"...\"' line to stamp the version into" >&2
    exit 1
fi
if [ "$(cat "$stage/$version_file" 2>/dev/null)" != "$generated" ]; then
    printf '%s\n' "$generated" > "$stage/$version_file"
fi

echo "building dploy $version (release, static Swift stdlib) in $stage" >&2
# --disable-local-rpath: no RUNPATH $ORIGIN; the binary lives in /usr/bin next to no libraries.
# -z now: full RELRO, as Debian's hardening flags link (only the link step changes).
# shellcheck disable=SC2086
"$SWIFT" build -c release --static-swift-stdlib --disable-local-rpath --product dploy \
    -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now \
    --package-path "$stage" --scratch-path "$scratch" ${BUILD_FLAGS:-} >&2
bin=$("$SWIFT" build -c release --static-swift-stdlib --package-path "$stage" --scratch-path "$scratch" --show-bin-path)/dploy
"$bin" --version >/dev/null
echo "$bin"
