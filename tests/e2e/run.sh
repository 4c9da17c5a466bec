#!/usr/bin/env bash
# dploy end to end: a QEMU machine PXE-boots through the DHCP config dploy wrote, is
# discovered, becomes desired state by a git commit, installs once, boots its disk, and
# reinstalls once when git bumps its generation. See tests/e2e/README.md.
#
#   bash tests/e2e/run.sh            (as root; `make e2e` builds dploy and runs this)
#   E2E_KEEP=1 ...                   keep the work folder (logs, disk, consoles) for a look
#   E2E_ONLY="uefi" ...              setup, then only these steps (step_NAME), to work on one
#
# Everything runs in a network namespace the test makes and deletes; only the PIDs it
# started are stopped; the work folder is removed on exit, also on INT and TERM.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$E2E_DIR/../.." && pwd)"
E2E_DPLOY="${DPLOY:-$REPO/.build/debug/dploy}"
E2E_MAC="52:54:00:e2:e0:01"
E2E_IP="198.18.0.50"
E2E_BOOT_TIMEOUT="${E2E_BOOT_TIMEOUT:-300}"

. "$E2E_DIR/lib/common.sh"
. "$E2E_DIR/lib/netns.sh"
. "$E2E_DIR/lib/power.sh"
. "$E2E_DIR/lib/dhcp.sh"
. "$E2E_DIR/lib/dploy.sh"
. "$E2E_DIR/lib/images.sh"
. "$E2E_DIR/lib/uefi.sh"
. "$E2E_DIR/steps.sh"
. "$E2E_DIR/steps-uefi.sh"
. "$E2E_DIR/steps-proxy.sh"

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tap devices)"
[ -x "$E2E_DPLOY" ] || die "no dploy binary at $E2E_DPLOY (swift build, or DPLOY=...)"
for tool in ip qemu-system-x86_64 dnsmasq busybox cpio git python3 curl openssl grub-mkimage mformat; do
    command -v "$tool" >/dev/null || die "$tool is missing: run bash tests/e2e/setup.sh"
done
[ -r /usr/share/OVMF/OVMF_CODE.fd ] || die "OVMF is missing: run bash tests/e2e/setup.sh"

E2E_WORK="$(mktemp -d /tmp/dploy-e2e.XXXXXX)"
E2E_RESULT=1

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    : > "$E2E_WORK/stopping"  # dploy's DHCP reload (lib/dhcp.sh) starts nothing from now on
    bmc_stop
    uefi_stop_all
    dploy_stop
    dhcp_stop
    site_dhcp_stop
    netns_delete
    if [ "$E2E_RESULT" != 0 ]; then
        log "failed; the last lines of each log:"
        local file
        for file in "$E2E_WORK"/serve.log "$E2E_WORK"/dnsmasq.log "$E2E_WORK"/bmc.log "$E2E_WORK"/console-*.log; do
            [ -f "$file" ] || continue
            printf -- '--- %s\n' "$file" >&2
            tail -n 25 "$file" | cut -c1-400 >&2
        done
    fi
    if [ -n "${E2E_KEEP:-}" ]; then log "kept $E2E_WORK"; else rm -rf "$E2E_WORK"; fi
    [ "$E2E_RESULT" = 0 ] || exit $(( status == 0 ? 1 : status ))
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

started="$(date +%s.%N)"
run_steps
print_times
log "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "passed in %.1f s", b - a}')"
E2E_RESULT=0
