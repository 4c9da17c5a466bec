# dnsmasq, DHCP only, on the test's bridge. Its base config is static: reservations and
# boot options come only from the files `dploy apply` writes (conf-file= names dploy's
# config, which names dploy's hosts file). dploy's reload command sends SIGHUP, on which
# dnsmasq re-reads the hosts file.

E2E_DNSMASQ_PID=""

dhcp_write_base_config() {
    cat > "$E2E_WORK/dnsmasq.conf" <<CONF
# The e2e test's dnsmasq: DHCP on br0 only, no DNS, nothing of the host's.
port=0
interface=br0
bind-interfaces
dhcp-authoritative
dhcp-range=198.18.0.100,198.18.0.199,255.255.255.0,10m
dhcp-leasefile=$E2E_WORK/dnsmasq.leases
pid-file=$E2E_WORK/dnsmasq.pid
log-facility=$E2E_WORK/dnsmasq.log
log-dhcp
user=root
# Everything machine-specific: written by dploy.
conf-file=$E2E_WORK/out/dhcp/dploy.conf
CONF
}

# The command dploy runs when its DHCP files change (dhcp.reload in dploy.yaml). Before
# dnsmasq starts there is nothing to reload: it reads the files when it starts.
dhcp_reload_command() {
    echo "test ! -s $E2E_WORK/dnsmasq.pid || kill -HUP \$(cat $E2E_WORK/dnsmasq.pid)"
}

dhcp_start() {
    [ -f "$E2E_WORK/out/dhcp/dploy.conf" ] || die "dploy has not written its dnsmasq config"
    ip netns exec "$E2E_NETNS" dnsmasq --keep-in-foreground --conf-file="$E2E_WORK/dnsmasq.conf" </dev/null \
        >"$E2E_WORK/dnsmasq.out" 2>&1 &
    E2E_DNSMASQ_PID=$!
    wait_for 10 "dnsmasq to start" dhcp_started
    log "dnsmasq started (pid $E2E_DNSMASQ_PID)"
}

dhcp_started() {
    kill -0 "$E2E_DNSMASQ_PID" 2>/dev/null || { cat "$E2E_WORK/dnsmasq.out" >&2; die "dnsmasq exited"; }
    [ "$(cat "$E2E_WORK/dnsmasq.pid" 2>/dev/null)" = "$E2E_DNSMASQ_PID" ]
}

dhcp_stop() {
    [ -n "$E2E_DNSMASQ_PID" ] || return 0
    kill "$E2E_DNSMASQ_PID" 2>/dev/null || true
    wait "$E2E_DNSMASQ_PID" 2>/dev/null || true
    E2E_DNSMASQ_PID=""
}

dhcp_log() { cat "$E2E_WORK/dnsmasq.log" 2>/dev/null || true; }
