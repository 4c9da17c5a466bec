# Power for the one test machine, through its Redfish BMC (lib/bmc.py): power_on,
# power_off, power_state and wait_power_off are the Redfish requests an operator's tools
# make (curl, basic auth, the BMC's certificate checked against the test's CA). The BMC
# owns QEMU: "on" starts it (network first, then the disk), "off" stops it, a reboot inside
# the guest stays a reboot, and the machine is Off when QEMU exits. dploy's own runs drive
# the same BMC (spec.bmc), so the test sees the power-ons dploy makes too.
#
# The machine's hardware stays the same across boots: MAC, disk image, memory.
#   E2E_MAC, E2E_DISK: set by the harness; E2E_WORK/console-N.log: the serial console of boot N.

E2E_BMC_PID=""
E2E_BMC_URL="https://127.0.0.1:8443"
E2E_BMC_SYSTEM="/redfish/v1/Systems/e2e"
E2E_BMC_USER="e2e-admin"
E2E_BOOT=0
E2E_CONSOLE=""
E2E_QEMU_STATUS=""

qemu_accel() {
    # /dev/kvm can exist on a CPU without vmx/svm (nested): KVM would then fail or hang.
    if [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then echo kvm; else echo tcg; fi
}

# The machine, as the BMC starts it: {boot} is the boot's number, {net} and {disk} the
# bootindex of the NIC and the disk (the BMC's boot order and override).
qemu_command() {
    printf '%s\n' qemu-system-x86_64 -accel "$(qemu_accel)" -m 512 -smp 1 \
        -nographic -monitor none -serial "file:$E2E_WORK/console-{boot}.log" \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
        -device "virtio-net-pci,netdev=n0,mac=$E2E_MAC,bootindex={net}" \
        -drive "file=$E2E_DISK,if=none,id=d0,format=raw" \
        -device "virtio-blk-pci,drive=d0,bootindex={disk}" \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04
}

# bmc_start: a CA and the BMC's certificate (openssl), its password (secrets/e2e-bmc.yaml,
# what dploy reads too), and the BMC inside the namespace on 127.0.0.1:8443.
bmc_start() {
    local dir="$E2E_WORK/bmc" password
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=dploy e2e CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=e2e-bmc" \
        -keyout "$dir/bmc.key" -out "$dir/bmc.csr" 2>/dev/null
    openssl x509 -req -in "$dir/bmc.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') -out "$dir/bmc.pem" 2>/dev/null
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    (umask 077 && printf '%s\n' "$password" > "$dir/password" \
        && printf 'username: %s\npassword: "%s"\nallowedAddresses: ["https://127.0.0.1:8443"]\n' "$E2E_BMC_USER" "$password" > "$E2E_WORK/secrets/e2e-bmc.yaml")
    local command=()
    mapfile -t command < <(qemu_command)
    ip netns exec "$E2E_NETNS" python3 "$E2E_DIR/lib/bmc.py" --listen 127.0.0.1:8443 \
        --cert "$dir/bmc.pem" --key "$dir/bmc.key" --user "$E2E_BMC_USER" --password-file "$dir/password" \
        --state-dir "$dir" --log "$E2E_WORK/bmc.log" -- "${command[@]}" </dev/null >>"$E2E_WORK/bmc.log" 2>&1 &
    E2E_BMC_PID=$!
    wait_for 30 "the BMC to answer on $E2E_BMC_URL" bmc_answering
    log "BMC started (pid $E2E_BMC_PID, $E2E_BMC_URL)"
}

bmc_answering() {
    kill -0 "$E2E_BMC_PID" 2>/dev/null || { cat "$E2E_WORK/bmc.log" >&2; die "the BMC exited"; }
    redfish GET /redfish/v1 >/dev/null 2>&1
}

# bmc_stop: the BMC stops its QEMU on TERM; a QEMU it left behind (it was killed) is stopped here.
bmc_stop() {
    [ -n "$E2E_BMC_PID" ] || return 0
    kill -TERM "$E2E_BMC_PID" 2>/dev/null || true
    wait "$E2E_BMC_PID" 2>/dev/null || true
    E2E_BMC_PID=""
    local qemu
    qemu="$(cat "$E2E_WORK/bmc/qemu.pid" 2>/dev/null || true)"
    if [ -n "$qemu" ] && [ "$(cat "/proc/$qemu/comm" 2>/dev/null)" = qemu-system-x86 ]; then
        kill "$qemu" 2>/dev/null || true
    fi
}

# redfish METHOD PATH [JSON]: one request to the BMC, from inside the namespace; prints the body.
redfish() {
    local method="$1" path="$2" body="${3:-}"
    local args=(-fsS --cacert "$E2E_WORK/bmc/ca.pem" -X "$method" --max-time 20)
    [ "$path" = /redfish/v1 ] || args+=(-u "$E2E_BMC_USER:$(cat "$E2E_WORK/bmc/password")")
    [ -z "$body" ] || args+=(-H 'Content-Type: application/json' --data "$body")
    in_netns curl "${args[@]}" "$E2E_BMC_URL$path"
}

# bmc_field PATH: a field of the system resource (a Python subscript path, like jq_get).
bmc_field() { redfish GET "$E2E_BMC_SYSTEM" | jq_get "$1"; }

power_state() { bmc_field '["PowerState"]'; }

# power_now: E2E_BOOT and E2E_CONSOLE from the BMC: the boot going on, or the last one.
power_now() {
    E2E_BOOT="$(bmc_field '["Oem"]["DployE2E"]["Boot"]')"
    E2E_CONSOLE="$E2E_WORK/console-$E2E_BOOT.log"
}

power_on() {
    [ "$(power_state)" = Off ] || return 0
    E2E_QEMU_STATUS=""
    redfish POST "$E2E_BMC_SYSTEM/Actions/ComputerSystem.Reset" '{"ResetType": "On"}' >/dev/null
    power_now
    log "power on: boot $E2E_BOOT (console $E2E_CONSOLE)"
}

power_off() {
    [ "$(power_state)" = On ] || return 0
    redfish POST "$E2E_BMC_SYSTEM/Actions/ComputerSystem.Reset" '{"ResetType": "ForceOff"}' >/dev/null
}

# wait_power_off SECONDS: waits until the machine turns itself off; E2E_QEMU_STATUS is
# QEMU's exit status (0 after `poweroff -f`, 33 when the boot sector left via isa-debug-exit).
wait_power_off() {
    local seconds="$1" deadline=$((SECONDS + $1))
    power_now
    while [ "$(power_state)" != Off ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "boot $E2E_BOOT still running after ${seconds}s; its console:"
            tail -n 30 "$E2E_CONSOLE" >&2 || true
            power_off
            die "the machine did not power off within ${seconds}s"
        fi
        sleep 0.5
    done
    local deadline_status=$((SECONDS + 10))
    E2E_QEMU_STATUS="$(bmc_field '["Oem"]["DployE2E"]["ExitStatus"]')"
    # The BMC notes the exit status a moment after QEMU is gone.
    while [ -z "$E2E_QEMU_STATUS" ] || [ "$E2E_QEMU_STATUS" = None ]; do
        [ "$SECONDS" -lt "$deadline_status" ] || die "the BMC did not report QEMU's exit status"
        sleep 0.2
        E2E_QEMU_STATUS="$(bmc_field '["Oem"]["DployE2E"]["ExitStatus"]')"
    done
    log "power off: boot $E2E_BOOT ended, QEMU status $E2E_QEMU_STATUS"
}
