#!/usr/bin/env bash
# Builds .build-deb/dploy_VERSION_ARCH.deb with dpkg-deb (no debhelper): the release
# binary from build-release.sh, the systemd unit, the config, completions, the man page,
# the JSON Schemas, the example lab and the docs. Prints the path of the .deb.
#   DEB_MAINTAINER="Name <mail>"  DPLOY_VERSION=...  SWIFT=swift
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
SWIFT=${SWIFT:-swift}
maintainer=${DEB_MAINTAINER:-dploy maintainers <maintainers@users.noreply.r-seed-bce34501.example>}
start=$(date +%s)

bin=$(packaging/build-release.sh)
version=$(packaging/version.sh)
arch=$(dpkg --print-architecture)
# Timestamps in the package come from the commit, so two builds of it are the same bytes.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# swift-argument-parser's generate-manual, the tool its generate-manual plugin runs. Built
# in its own scratch folder: the plugin itself would rebuild every product of the package
# (dploy-bench too) without --static-swift-stdlib, and sharing release-build would relink
# dploy on every run.
tools=$top/.build-deb/tools
"$SWIFT" build -c release --product generate-manual --package-path .build-deb/src \
    --scratch-path "$tools" >&2
generate_manual=$("$SWIFT" build -c release --package-path .build-deb/src --scratch-path "$tools" --show-bin-path)/generate-manual

root=$top/.build-deb/root
rm -rf "$root"
install -d -m 0755 "$root/DEBIAN"
into() { install -D -m "$1" "$2" "$root/$3"; }   # into MODE SOURCE DESTINATION

into 0755 "$bin" usr/bin/dploy
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/dploy"
into 0644 packaging/dploy.service lib/systemd/system/dploy.service
into 0644 packaging/dploy.yaml etc/dploy/dploy.yaml

dploy=$root/usr/bin/dploy
install -d -m 0755 "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d" "$root/usr/share/man/man1"
# A completion file is sourced, not run: no #! line (lintian: bash-completion-with-hashbang).
"$dploy" --generate-completion-script bash | sed '1{/^#!/d}' > "$root/usr/share/bash-completion/completions/dploy"
"$dploy" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_dploy"
"$dploy" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/dploy.fish"
man_tmp=$top/.build-deb/man
rm -rf "$man_tmp" && mkdir -p "$man_tmp"
"$generate_manual" "$dploy" --output-directory "$man_tmp" \
    --date "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" >&2
gzip -9n < "$man_tmp/dploy.1" > "$root/usr/share/man/man1/dploy.1.gz"

# JSON Schemas and the example lab (tracked files only: never a local state/ or out/).
for f in schemas/*.json; do into 0644 "$f" "usr/share/dploy/$f"; done
git ls-files -z examples/lab | while IFS= read -r -d '' f; do
    case "$f" in */.gitignore) continue ;; esac
    into 0644 "$f" "usr/share/dploy/$f"
done

into 0644 packaging/debian/lintian-overrides usr/share/lintian/overrides/dploy

doc=usr/share/doc/dploy
into 0644 packaging/debian/copyright "$doc/copyright"
install -d -m 0755 "$root/$doc"
gzip -9n < README.md > "$root/$doc/README.md.gz"
gzip -9n < docs/spec.md > "$root/$doc/spec.md.gz"
# A native package's changelog: this version, with the commits since the last tag
# (or the last 30 when there is none).
{
    echo "dploy ($version) unstable; urgency=medium"
    echo
    if last_tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then range="$last_tag..HEAD"; else range="-30 HEAD"; fi
    # shellcheck disable=SC2086
    git log --no-merges --format='%s' $range 2>/dev/null | while IFS= read -r subject; do
        printf '%s\n' "$subject" | fold -s -w 74 | sed -e 's/ *$//' -e '1s/^/  * /' -e '2,$s/^/    /'
    done
    [ "$(git rev-parse -q --verify HEAD 2>/dev/null)" ] || echo "  * Built outside git."
    echo
    echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} > "$top/.build-deb/changelog"
gzip -9n < "$top/.build-deb/changelog" > "$root/$doc/changelog.gz"
chmod 0644 "$root/$doc/"*

# Depends: what the binary really links, as dpkg-shlibdeps finds it (it wants a debian/control).
shlib=$top/.build-deb/shlibdeps
rm -rf "$shlib" && mkdir -p "$shlib/debian"
printf 'Source: dploy\n\nPackage: dploy\nArchitecture: any\n' > "$shlib/debian/control"
shlibs=$(cd "$shlib" && dpkg-shlibdeps -O "$dploy" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "dpkg-shlibdeps found no libraries for $dploy" >&2; exit 1; }

installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: dploy
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: adduser, $shlibs
Recommends: openssh-client
Suggests: dnsmasq-base | isc-dhcp-server | kea-dhcp4-server
Section: admin
Priority: optional
Description: GitOps reconciler and boot server for bare-metal fleets
 dploy reads the desired state of a fleet of servers (machines, groups,
 install profiles, firmware baselines, tasks) as YAML from git, compares it
 with what the machines report, shows the plan and converges: PXE/iPXE boot
 files, DHCP configuration checked by the DHCP server's own checker, and
 installs tracked per generation.
 .
 This package runs "dploy serve" as the unprivileged dploy user under a
 sandboxed systemd unit; it is enabled on install and started once
 /etc/dploy/dploy.yaml is edited.
CONTROL
echo /etc/dploy/dploy.yaml > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +

deb=$top/.build-deb/dploy_${version}_${arch}.deb
rm -f "$top"/.build-deb/dploy_*.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "built $(basename "$deb"): $(du -h "$deb" | cut -f1), installed $((installed_size / 1024)) MiB, in $(( $(date +%s) - start )) s" >&2
echo "$deb"
