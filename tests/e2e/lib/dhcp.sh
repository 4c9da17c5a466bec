# dnsmasq, DHCP only, on the test's bridge. Its base config is static: reservations and
# boot options come only from the files `dploy apply` writes (conf-file= names dploy's
# config, which names dploy's hosts file). dploy's reload command restarts it.

# dhcp_write_base_config [proxy]: with "proxy", no addresses of its own (dploy's
# dnsmasq-proxy config has the proxy range; the site's server hands out addresses).
dhcp_write_base_config() {
    local addresses="dhcp-authoritative
dhcp-range=198.18.0.100,198.18.0.199,255.255.255.0,10m"
    [ "${1:-}" != proxy ] || addresses="# proxyDHCP: the addresses come from the site's DHCP server."
    cat > "$E2E_WORK/dnsmasq.conf" <<CONF
# The e2e test's dnsmasq: DHCP on br0 only, no DNS, nothing of the host's.
port=0
interface=br0
bind-interfaces
$addresses
dhcp-leasefile=$E2E_WORK/dnsmasq.leases
pid-file=$E2E_WORK/dnsmasq.pid
log-facility=$E2E_WORK/dnsmasq.log
log-dhcp
user=root
# Everything machine-specific: written by dploy.
conf-file=$E2E_WORK/out/dhcp/dploy.conf
CONF
}

# The command dploy runs when its DHCP files change (dhcp.reload in dploy.yaml): a restart,
# as `systemctl restart dnsmasq` would, because dnsmasq reads dploy.conf (the loader tags)
# only when it starts. Before dnsmasq first starts, and once the test is stopping (the
# file "stopping"), there is nothing to restart. The script stops the daemon by its PID
# file (5 s, then KILL) and starts it again; a dnsmasq that died by itself is not
# restarted behind the test's back (the script fails, and dhcp_alive notices).
dhcp_reload_command() {
    cat > "$E2E_WORK/dnsmasq-restart.sh" <<SCRIPT
#!/bin/sh
[ ! -e $E2E_WORK/stopping ] || exit 0
pid="\$(cat $E2E_WORK/dnsmasq.pid 2>/dev/null)"
[ -n "\$pid" ] || exit 0
kill -0 "\$pid" || { echo "dnsmasq (pid \$pid) is not running" >&2; exit 1; }
dhcp_stop_pid() {
    kill "\$1"
    tries=0
    while kill -0 "\$1" 2>/dev/null; do
        tries=\$((tries + 1))
        [ "\$tries" -lt 50 ] || kill -KILL "\$1"
        sleep 0.1
    done
}
dhcp_stop_pid "\$pid"
[ ! -e $E2E_WORK/stopping ] || exit 0
exec dnsmasq --conf-file=$E2E_WORK/dnsmasq.conf
SCRIPT
    echo "sh $E2E_WORK/dnsmasq-restart.sh"
}

# dhcp_start: dnsmasq as a daemon in the namespace (it forks; its PID is in dnsmasq.pid).
dhcp_start() {
    [ -f "$E2E_WORK/out/dhcp/dploy.conf" ] || die "dploy has not written its dnsmasq config"
    in_netns dnsmasq --conf-file="$E2E_WORK/dnsmasq.conf" </dev/null >"$E2E_WORK/dnsmasq.out" 2>&1 \
        || { cat "$E2E_WORK/dnsmasq.out" >&2; die "dnsmasq did not start"; }
    wait_for 10 "dnsmasq to start" dhcp_alive
    log "dnsmasq started (pid $(cat "$E2E_WORK/dnsmasq.pid"))"
}

dhcp_alive() {
    local pid
    pid="$(cat "$E2E_WORK/dnsmasq.pid" 2>/dev/null)" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# dhcp_stop: stops dnsmasq and waits until it is gone (its port is free for the next one).
dhcp_stop() {
    local pid waited=0
    pid="$(cat "$E2E_WORK/dnsmasq.pid" 2>/dev/null)" || return 0
    # dploy's reload command restarts the PID in this file: none while dnsmasq is stopped.
    rm -f "$E2E_WORK/dnsmasq.pid"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
    kill -KILL "$pid" 2>/dev/null || true
}

dhcp_log() { cat "$E2E_WORK/dnsmasq.log" 2>/dev/null || true; }
