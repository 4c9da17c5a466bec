# Power for the one test machine, behind the calls a BMC client makes: power_on, power_off,
# power_cycle, power_state. This lab has no BMC: "on" starts QEMU (network first, then the
# disk), "off" stops it. A Redfish BMC (sushy-tools) can implement the same four functions.
#
# The machine's hardware stays the same across boots: MAC, disk image, memory.
#   E2E_MAC, E2E_DISK: set by the harness; E2E_WORK/console-N.log: the serial console of boot N.

E2E_QEMU_PID=""
E2E_BOOT=0
E2E_CONSOLE=""
E2E_QEMU_STATUS=""

qemu_accel() {
    # /dev/kvm can exist on a CPU without vmx/svm (nested): KVM would then fail or hang.
    if [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then echo kvm; else echo tcg; fi
}

power_state() {
    if [ -n "$E2E_QEMU_PID" ] && kill -0 "$E2E_QEMU_PID" 2>/dev/null; then echo On; else echo Off; fi
}

power_on() {
    [ "$(power_state)" = Off ] || return 0
    E2E_BOOT=$((E2E_BOOT + 1))
    E2E_CONSOLE="$E2E_WORK/console-$E2E_BOOT.log"
    E2E_QEMU_STATUS=""
    # ip netns exec execs QEMU: $! is QEMU's own PID.
    ip netns exec "$E2E_NETNS" qemu-system-x86_64 -accel "$(qemu_accel)" -m 512 -smp 1 \
        -nographic -monitor none -no-reboot -serial "file:$E2E_CONSOLE" \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
        -device "virtio-net-pci,netdev=n0,mac=$E2E_MAC,bootindex=1" \
        -drive "file=$E2E_DISK,if=none,id=d0,format=raw" \
        -device virtio-blk-pci,drive=d0,bootindex=2 \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        </dev/null >"$E2E_WORK/qemu-$E2E_BOOT.log" 2>&1 &
    E2E_QEMU_PID=$!
    log "power on: boot $E2E_BOOT (QEMU pid $E2E_QEMU_PID, console $E2E_CONSOLE)"
}

power_off() {
    [ -n "$E2E_QEMU_PID" ] || return 0
    if kill -0 "$E2E_QEMU_PID" 2>/dev/null; then kill "$E2E_QEMU_PID" 2>/dev/null || true; fi
    wait "$E2E_QEMU_PID" 2>/dev/null || true
    E2E_QEMU_PID=""
}

power_cycle() { power_off; power_on; }

# wait_power_off SECONDS: waits until the machine turns itself off; E2E_QEMU_STATUS is
# QEMU's exit status (0 after `poweroff -f`, 33 when the boot sector left via isa-debug-exit).
wait_power_off() {
    local seconds="$1" deadline=$((SECONDS + $1))
    while kill -0 "$E2E_QEMU_PID" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "boot $E2E_BOOT still running after ${seconds}s; its console:"
            tail -n 30 "$E2E_CONSOLE" >&2 || true
            power_off
            die "the machine did not power off within ${seconds}s"
        fi
        sleep 0.5
    done
    E2E_QEMU_STATUS=0
    wait "$E2E_QEMU_PID" || E2E_QEMU_STATUS=$?
    E2E_QEMU_PID=""
    log "power off: boot $E2E_BOOT ended, QEMU status $E2E_QEMU_STATUS"
}
