# UEFI machines that the test powers itself (no BMC): QEMU with Debian's OVMF, the
# firmware's own network stack (PXE, as a server's NIC does; `romfile=` keeps QEMU's iPXE
# option ROM out), a 16 MiB disk, and NVRAM that lasts across the machine's boots.
#
#   uefi_machine NAME MAC TAP     a machine: its disk, NVRAM, and tap device on br0
#   uefi_boot NAME                powers it on and waits until it turns itself off; the boot's
#                                 number, console, exit status and log positions go to files
#                                 under E2E_WORK/uefi/NAME/, so boots may run in background jobs
#
# Boot N of NAME: E2E_WORK/uefi/NAME/console-N.log; its QEMU status, and the HTTP, TFTP and
# DHCP log line counts when it started, in boot-N.{status,http,tftp,dhcp}.

uefi_dir() { echo "$E2E_WORK/uefi/$1"; }

uefi_machine() {
    local name="$1" mac="$2" tap="$3" dir
    dir="$(uefi_dir "$name")"
    mkdir -p "$dir"
    truncate -s 16M "$dir/disk.img"
    cp /usr/share/OVMF/OVMF_VARS.fd "$dir/vars.fd"
    printf '%s\n' "$mac" > "$dir/mac"
    printf '%s\n' "$tap" > "$dir/tap"
    printf '0\n' > "$dir/boots"
    netns_add_tap "$tap"
}

# uefi_boot NAME: one boot, to its end (or E2E_BOOT_TIMEOUT, then it fails).
uefi_boot() {
    local name="$1" dir boot status=0
    dir="$(uefi_dir "$name")"
    # (A reload restarts dnsmasq: a moment without it is not a death.)
    wait_for 10 "dnsmasq to run (did it die? see dnsmasq.log, and dmesg for a crash)" dhcp_alive
    boot=$(( $(cat "$dir/boots") + 1 ))
    printf '%s\n' "$boot" > "$dir/boots"
    http_log | wc -l > "$dir/boot-$boot.http"
    tftp_log | wc -l > "$dir/boot-$boot.tftp"
    line_count "$E2E_WORK/dnsmasq.log" > "$dir/boot-$boot.dhcp"
    log "$name: power on, boot $boot (console $dir/console-$boot.log)"
    # IPv6 PXE off: OVMF would try it after IPv4 and wait a minute for an answer. QEMU runs
    # as a background job waited for, so that a signal to the test is handled at once.
    in_netns timeout "$E2E_BOOT_TIMEOUT" qemu-system-x86_64 -accel "$(qemu_accel)" -m 512 -smp 1 \
        -nographic -monitor none -serial "file:$dir/console-$boot.log" -no-reboot -pidfile "$dir/qemu.pid" \
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd" \
        -drive "if=pflash,format=raw,unit=1,file=$dir/vars.fd" \
        -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no \
        -netdev "tap,id=n0,ifname=$(cat "$dir/tap"),script=no,downscript=no" \
        -device "virtio-net-pci,netdev=n0,mac=$(cat "$dir/mac"),bootindex=1,romfile=" \
        -drive "file=$dir/disk.img,if=none,id=d0,format=raw" \
        -device "virtio-blk-pci,drive=d0,bootindex=2" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null >"$dir/qemu-$boot.out" 2>&1 &
    wait $! || status=$?
    printf '%s\n' "$status" > "$dir/boot-$boot.status"
    log "$name: boot $boot ended, QEMU status $status"
}

# The background jobs booting UEFI machines (uefi_boots_start), for cleanup.
E2E_UEFI_JOBS=()

# uefi_stop_all: the jobs, then the QEMU of each UEFI machine by its PID file (only if that
# PID is still a QEMU: cleanup after a failure or a signal).
uefi_stop_all() {
    local job qemu file
    for job in "${E2E_UEFI_JOBS[@]}"; do kill "$job" 2>/dev/null || true; done
    E2E_UEFI_JOBS=()
    for file in "$E2E_WORK"/uefi/*/qemu.pid; do
        [ -f "$file" ] || continue
        qemu="$(cat "$file" 2>/dev/null || true)"
        if [ -n "$qemu" ] && [ "$(cat "/proc/$qemu/comm" 2>/dev/null)" = qemu-system-x86 ]; then kill "$qemu" 2>/dev/null || true; fi
    done
}

# uefi_boots NAME COUNT: COUNT boots one after another; stops after a boot that timed out
# (status 124) or failed, whose console tells why.
uefi_boots() {
    local boot status
    for ((boot = 1; boot <= $2; boot++)); do
        uefi_boot "$1"
        status="$(uefi_status "$1" "$(cat "$(uefi_dir "$1")/boots")")"
        [ "$status" = 0 ] || [ "$status" = 33 ] || { log "$1: boot $boot ended with status $status; no more boots"; return 1; }
    done
}

# uefi_boots_start NAME COUNT: uefi_boots as a background job, kept for uefi_boots_wait.
uefi_boots_start() {
    uefi_boots "$1" "$2" &
    E2E_UEFI_JOBS+=($!)
}

# uefi_boots_wait: every job started; fails when one did.
uefi_boots_wait() {
    local job failed=0
    for job in "${E2E_UEFI_JOBS[@]}"; do wait "$job" || failed=1; done
    E2E_UEFI_JOBS=()
    [ "$failed" = 0 ] || die "a UEFI machine's boots failed (see its console under $E2E_WORK/uefi)"
}

# What boot N of NAME left: its status, console, and the log lines from its address.
uefi_status() { cat "$(uefi_dir "$1")/boot-$2.status"; }
uefi_console() { echo "$(uefi_dir "$1")/console-$2.log"; }
# uefi_http NAME N ADDRESS: the HTTP log lines of boot N (to the next boot's start) from ADDRESS.
uefi_http() { uefi_window "$1" "$2" http | awk -v client="$3" '$NF == client'; }
uefi_tftp() { uefi_window "$1" "$2" tftp | awk -v client="$3" '$NF == client'; }
# uefi_dhcp NAME N: dnsmasq's log lines of boot N that belong to NAME's transactions (the
# xids of lines naming its MAC): with two machines booting at once, not the other's.
uefi_dhcp() {
    local dir first last
    dir="$(uefi_dir "$1")"
    first="$(cat "$dir/boot-$2.dhcp")"
    last="$(cat "$dir/boot-$(($2 + 1)).dhcp" 2>/dev/null || line_count "$E2E_WORK/dnsmasq.log")"
    lines_after "$E2E_WORK/dnsmasq.log" "$first" | head -n "$((last - first))" \
        | awk -v mac="$(cat "$dir/mac")" '{ lines[NR] = $0; xid[NR] = $5 } index($0, mac) { ours[$5] = 1 }
            END { for (i = 1; i <= NR; i++) if (xid[i] in ours) print lines[i] }'
}
uefi_window() {
    local dir first last
    dir="$(uefi_dir "$1")"
    first="$(cat "$dir/boot-$2.$3")"
    last="$(cat "$dir/boot-$(($2 + 1)).$3" 2>/dev/null || "${3}_log" | wc -l)"
    "${3}_log" | tail -n +"$((first + 1))" | head -n "$((last - first))"
}

# The marker the installer wrote: at offset 256 (what the BIOS boot sector prints) and in
# sector 1 (what the EFI system partition's GRUB prints), up to the line's end.
uefi_disk_marker() {
    local disk
    disk="$(uefi_dir "$1")/disk.img"
    printf '%s|%s\n' "$(dd if="$disk" bs=1 skip=256 count=128 status=none | tr -d '\r\n' | cut -d '' -f 1)" \
        "$(dd if="$disk" bs=512 skip=1 count=1 status=none | head -n 1)"
}
