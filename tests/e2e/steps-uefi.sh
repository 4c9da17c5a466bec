# Step 13: two UEFI machines (lib/uefi.sh) boot at the same time, each through another
# loader that dploy's DHCP config picks by client architecture (option 93) and profile:
# GRUB (Debian's grubnetx64.efi over dploy's TFTP, its config decided by dploy over
# HTTP) and iPXE (snponly.efi over TFTP, then /boot.ipxe). Each installs once, calls back, and
# boots its disk's EFI system partition on its next boot with nothing fetched.

E2E_UEFI_MACHINES=(uefi-grub uefi-ipxe)
declare -A E2E_UEFI_MAC=([uefi-grub]=52:54:00:e2:e0:02 [uefi-ipxe]=52:54:00:e2:e0:03)
declare -A E2E_UEFI_IP=([uefi-grub]=198.18.0.51 [uefi-ipxe]=198.18.0.52)
declare -A E2E_UEFI_PROFILE=([uefi-grub]=e2e-grub [uefi-ipxe]=e2e-uefi)
declare -A E2E_UEFI_TAP=([uefi-grub]=tap1 [uefi-ipxe]=tap2)

# e2e_profile NAME LOADER: the e2e installer profile under another name, booting LOADER.
e2e_profile() {
    sed -e "s/^  name: e2e\$/  name: $1/" -e "s/^  loader: .*/  loader: $2/" \
        "$E2E_DIR/fleet/profiles/e2e.yaml" > "$E2E_WORK/fleet/site/profiles/$1.yaml"
}

# e2e_machine NAME MAC IP PROFILE GENERATION: a machine written in git as an operator would.
e2e_machine() {
    mkdir -p "$E2E_WORK/fleet/site/machines"
    cat > "$E2E_WORK/fleet/site/machines/$1.yaml" <<YAML
apiVersion: dploy.org/v1
kind: Machine
metadata: {name: $1}
spec:
  mac: $2
  ip: $3
  profile: $4
  generation: $5
YAML
}

# machine_state NAME: "STATE INSTALLED/DESIRED" from `dploy machines --json`.
machine_state() {
    dploy machines --config "$E2E_WORK/dploy.yaml" --json | python3 -c 'import json, sys
rows = [r for r in json.load(sys.stdin) if r.get("name") == sys.argv[1]]
row = rows[0] if rows else {}
print("%s %s/%s" % (row.get("state"), row.get("installedGeneration"), row.get("desiredGeneration")))' "$1"
}

step_uefi() {
    step_uefi_start
    step_uefi_check
}

# step_uefi_start: the machines committed and applied; their boots started as background jobs.
step_uefi_start() {
    step "13. two UEFI machines (OVMF) committed: one boots GRUB, one iPXE; both start booting"
    e2e_profile e2e-grub grub
    e2e_profile e2e-uefi ipxe
    local name
    for name in "${E2E_UEFI_MACHINES[@]}"; do
        e2e_machine "$name" "${E2E_UEFI_MAC[$name]}" "${E2E_UEFI_IP[$name]}" "${E2E_UEFI_PROFILE[$name]}" 1
        uefi_machine "$name" "${E2E_UEFI_MAC[$name]}" "${E2E_UEFI_TAP[$name]}"
    done
    fleet_commit "two UEFI machines: uefi-grub boots GRUB, uefi-ipxe boots iPXE"
    webhook
    assert "the run converged" converged_since_webhook
    assert "dnsmasq config: uefi-grub tagged for GRUB" \
        grep -qx "dhcp-mac=set:grub,${E2E_UEFI_MAC[uefi-grub]}" "$E2E_WORK/out/dhcp/dploy.conf"
    assert "dnsmasq config: uefi-ipxe untagged (iPXE is the default)" \
        none_of "${E2E_UEFI_MAC[uefi-ipxe]}" "$(cat "$E2E_WORK/out/dhcp/dploy.conf")"
    assert "dnsmasq hosts: both reservations, no tags" grep_all "$(cat "$E2E_WORK/out/dhcp/dploy.hosts")" \
        "^${E2E_UEFI_MAC[uefi-grub]},${E2E_UEFI_IP[uefi-grub]},uefi-grub\$" "^${E2E_UEFI_MAC[uefi-ipxe]},${E2E_UEFI_IP[uefi-ipxe]},uefi-ipxe\$"
    assert "apply wrote GRUB's first config, which chains to dploy over HTTP" \
        grep -qx 'configfile (http,198.18.0.1:8080)/grub/grub.cfg-01-$net_default_mac' "$E2E_WORK/out/tftp/grub/grub.cfg"

    # Both machines boot at once, each twice: the install, then the disk.
    for name in "${E2E_UEFI_MACHINES[@]}"; do uefi_boots_start "$name" 2; done
}

# step_uefi_check: waits for the UEFI machines' boots, then asserts each.
step_uefi_check() {
    step "13. (cont.) each installs once, then boots its disk"
    uefi_boots_wait

    expect_uefi_install uefi-grub 1
    assert "uefi-grub: DHCP gave GRUB (client arch 7, tagged grub)" \
        grep -q "bootfile-name  grubnetx64.efi" <<<"$(uefi_dhcp uefi-grub 1)"
    assert "uefi-grub: TFTP: grubnetx64.efi, grub/grub.cfg and GRUB's http module, from dploy's TFTP server" \
        uefi_tftp_has_all uefi-grub 1 "^grubnetx64.efi [0-9]* bytes" "^/grub/grub.cfg [0-9]* bytes" "^/grub/x86_64-efi/http.mod [0-9]* bytes"
    assert "uefi-grub: HTTP: its GRUB config decided by dploy, no iPXE script" \
        test "$(uefi_http uefi-grub 1 "${E2E_UEFI_IP[uefi-grub]}" | grep -c "^GET /grub/grub.cfg-01-${E2E_UEFI_MAC[uefi-grub]} 200")/$(uefi_http uefi-grub 1 "${E2E_UEFI_IP[uefi-grub]}" | grep -c '/boot.ipxe')" = 1/0
    expect_uefi_local_boot uefi-grub 2
    # GRUB chainloaded the disk itself: had it fallen back to the firmware, the firmware's
    # HTTP boot option would have fetched iPXE.
    assert "uefi-grub: HTTP: GRUB asked for its config once more, and nothing else was asked" \
        test "$(uefi_http uefi-grub 2 "${E2E_UEFI_IP[uefi-grub]}" | grep -c "^GET /grub/grub.cfg-01-${E2E_UEFI_MAC[uefi-grub]} 200")/$(uefi_http uefi-grub 2 "${E2E_UEFI_IP[uefi-grub]}" | wc -l)" = 1/1

    expect_uefi_install uefi-ipxe 1
    assert "uefi-ipxe: DHCP gave snponly.efi to the firmware (client arch 7), then /boot.ipxe to iPXE" \
        grep -q "bootfile-name  snponly.efi" <<<"$(uefi_dhcp uefi-ipxe 1)"
    assert "uefi-ipxe: TFTP: snponly.efi (Debian's ipxe package) from dploy's TFTP server" uefi_tftp_has_all uefi-ipxe 1 "^snponly.efi [0-9]* bytes"
    assert "uefi-ipxe: HTTP: the iPXE decision" \
        grep -q "^GET /boot.ipxe 200 ${E2E_UEFI_MAC[uefi-ipxe]}" <<<"$(uefi_http uefi-ipxe 1 "${E2E_UEFI_IP[uefi-ipxe]}")"
    expect_uefi_local_boot uefi-ipxe 2
    # After iPXE's exit 1 the firmware tries the NIC's next boot option before the disk:
    # UEFI HTTP boot, which dploy's DHCP answers with snponly.efi over HTTP; that iPXE asks
    # again and is told the disk again. On a server with HTTP boot off, the disk is next.
    assert "uefi-ipxe: HTTP: iPXE asked for its decision twice (PXE, then the firmware's HTTP boot option), and was told the disk" \
        test "$(uefi_http uefi-ipxe 2 "${E2E_UEFI_IP[uefi-ipxe]}" | grep -c "^GET /boot.ipxe 200 ${E2E_UEFI_MAC[uefi-ipxe]}")" = 2
}

# uefi_tftp_has_all NAME BOOT PATTERN...: TFTP lines of that boot, from NAME's address.
uefi_tftp_has_all() {
    local name="$1" boot="$2"
    shift 2
    grep_all "$(uefi_tftp "$name" "$boot" "${E2E_UEFI_IP[$name]}")" "$@"
}

# expect_uefi_install NAME BOOT [site]: boot BOOT of NAME installed generation 1 and called
# back; with "site", its address came from the site's DHCP server (step 14), not dploy's.
expect_uefi_install() {
    local name="$1" boot="$2" ip mac http dhcp="br0 $(uefi_dhcp "$1" "$2")"
    ip="${E2E_UEFI_IP[$name]}"
    mac="${E2E_UEFI_MAC[$name]}"
    http="$(uefi_http "$name" "$boot" "$ip")"
    [ "${3:-}" != site ] || dhcp="eth0 $(cat "$E2E_WORK/site-dhcp.log")"
    assert "$name: the installer powered off (QEMU status 0)" test "$(uefi_status "$name" "$boot")" = 0
    assert "$name: DHCP: the reserved address $ip" grep -qE "DHCPACK\(${dhcp%% *}\) ${ip//./\\.} $mac" <<<"${dhcp#* }"
    assert "$name: HTTP: the installer's kernel, initrd, answers; callback accepted (204)" \
        test "$(grep -c "^GET /files/e2e/vmlinuz 200\|^GET /files/e2e/installer.img 200\|^GET /installers/$name/preseed.cfg 200\|^POST /v1/machines/${mac//:/-}/installed 204" <<<"$http")" = 4
    assert "$name: console: the installer ran under UEFI, wrote the disk and called back" \
        grep -q "install done, called back" "$(uefi_console "$name" "$boot")"
    assert "$name: disk: the marker in the boot sector and in the sector the EFI partition's GRUB prints" \
        test "$(uefi_disk_marker "$name")" = "DPLOY-LOCAL-BOOT $name generation 1|DPLOY-LOCAL-BOOT $name generation 1"
    assert "$name: dploy machines: generation 1 installed" test "$(machine_state "$name")" = "installed 1/1"
}

# expect_uefi_local_boot NAME BOOT: boot BOOT of NAME asked dploy, then ran its disk's loader.
expect_uefi_local_boot() {
    local name="$1" boot="$2"
    assert "$name: QEMU left through the EFI partition's GRUB (isa-debug-exit, status 33)" \
        test "$(uefi_status "$name" "$boot")" = 33
    assert "$name: console: the disk's marker" \
        grep -q "DPLOY-LOCAL-BOOT $name generation 1" "$(uefi_console "$name" "$boot")"
    assert "$name: HTTP: no kernel, initrd, installer answers or callback fetched" \
        none_of "/files/\|/installers/\|/installed" "$(uefi_http "$name" "$boot" "${E2E_UEFI_IP[$name]}")"
    assert "$name: dploy machines: still generation 1 installed" test "$(machine_state "$name")" = "installed 1/1"
}
