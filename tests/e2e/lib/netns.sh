# The test's own network: a namespace with a bridge at 198.18.0.1/24 and a tap for QEMU.
# Nothing outside the namespace is touched: every device is created inside it, and
# deleting the namespace removes them all. IPv6 is off inside, so no address but loopback
# and 198.18.0.0/24 ever exists there.

E2E_NETNS=""

netns_create() {
    E2E_NETNS="dploy-e2e-$$"
    ip netns add "$E2E_NETNS"
    in_netns sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    in_netns ip link set lo up
    in_netns ip link add br0 type bridge
    in_netns ip addr add 198.18.0.1/24 dev br0
    in_netns ip tuntap add dev tap0 mode tap
    in_netns ip link set tap0 master br0
    in_netns ip link set tap0 up
    in_netns ip link set br0 up
}

# netns_add_tap NAME: another machine's tap on br0 (the UEFI machines of lib/uefi.sh).
netns_add_tap() {
    in_netns ip tuntap add dev "$1" mode tap
    in_netns ip link set "$1" master br0
    in_netns ip link set "$1" up
}

netns_delete() {
    [ -n "$E2E_NETNS" ] || return 0
    ip netns delete "$E2E_NETNS" 2>/dev/null || true
    E2E_NETNS=""
}

in_netns() { ip netns exec "$E2E_NETNS" "$@"; }

# Every address configured in the namespace, one per line ("lo 127.0.0.1/8").
netns_addresses() { ip -n "$E2E_NETNS" -o addr show | awk '{print $2, $4}'; }
