# Step 14: proxyDHCP. Another host on the boot network (a second namespace, 198.18.0.2)
# runs a plain DHCP server that hands out addresses and knows nothing of network boot;
# dploy switches to `dhcp: {backend: dnsmasq-proxy}`, and its dnsmasq on 198.18.0.1 adds only
# the boot options (PXE service per architecture, then the entry script for iPXE). A UEFI
# machine boots through it: its firmware's PXE asks dploy's proxy for a loader (boot server
# discovery), gets snponly.efi from dploy's TFTP server, and installs once.

E2E_PROXY_NAME=proxy-uefi
E2E_PROXY_MAC=52:54:00:e2:e0:04
E2E_PROXY_IP=198.18.0.53
E2E_SITE_DHCP_PID=""

# The other host: a namespace joined to br0 by a veth pair, 198.18.0.2/24, IPv6 off.
site_dhcp_host() {
    E2E_SITE_NETNS="$E2E_NETNS-site"
    ip netns add "$E2E_SITE_NETNS"
    ip netns exec "$E2E_SITE_NETNS" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    in_netns ip link add vsite type veth peer name eth0 netns "$E2E_SITE_NETNS"
    in_netns ip link set vsite master br0
    in_netns ip link set vsite up
    ip -n "$E2E_SITE_NETNS" link set lo up
    ip -n "$E2E_SITE_NETNS" addr add 198.18.0.2/24 dev eth0
    ip -n "$E2E_SITE_NETNS" link set eth0 up
}

# The site's own DHCP server: addresses, one reservation, no boot options at all.
site_dhcp_start() {
    cat > "$E2E_WORK/site-dhcp.conf" <<CONF
# The site's DHCP server: addresses only. It has never heard of network boot.
port=0
interface=eth0
bind-interfaces
dhcp-authoritative
dhcp-range=198.18.0.100,198.18.0.199,255.255.255.0,10m
dhcp-host=$E2E_PROXY_MAC,$E2E_PROXY_IP
dhcp-leasefile=$E2E_WORK/site-dhcp.leases
pid-file=$E2E_WORK/site-dhcp.pid
log-facility=$E2E_WORK/site-dhcp.log
log-dhcp
user=root
CONF
    ip netns exec "$E2E_SITE_NETNS" dnsmasq --keep-in-foreground --conf-file="$E2E_WORK/site-dhcp.conf" </dev/null \
        >"$E2E_WORK/site-dhcp.out" 2>&1 &
    E2E_SITE_DHCP_PID=$!
    wait_for 10 "the site's DHCP server to start" grep -q "DHCP, IP range" "$E2E_WORK/site-dhcp.log"
    log "the site's DHCP server started on 198.18.0.2 (pid $E2E_SITE_DHCP_PID)"
}

site_dhcp_stop() {
    if [ -n "$E2E_SITE_DHCP_PID" ]; then
        kill "$E2E_SITE_DHCP_PID" 2>/dev/null || true
        wait "$E2E_SITE_DHCP_PID" 2>/dev/null || true
        E2E_SITE_DHCP_PID=""
    fi
    [ -z "${E2E_SITE_NETNS:-}" ] || ip netns delete "$E2E_SITE_NETNS" 2>/dev/null || true
    E2E_SITE_NETNS=""
}

step_proxy() {
    step "14. proxyDHCP: the site's DHCP server on another host hands out the address, dploy's dnsmasq only the boot; a UEFI machine installs once"
    dhcp_stop
    site_dhcp_host
    site_dhcp_start
    sed -i "s|^dhcp: {backend: dnsmasq, |dhcp: {backend: dnsmasq-proxy, network: 198.18.0.0/24, |" "$E2E_WORK/dploy.yaml"
    dploy_stop
    dploy_start
    assert "dploy's first run with the proxy backend converged" converged_since_webhook
    assert "dploy wrote a proxyDHCP config (no addresses of its own) and no hosts file" \
        test "$(grep -cx "dhcp-range=198.18.0.0,proxy,255.255.255.0" "$E2E_WORK/out/dhcp/dploy.conf")/$(grep -c "dhcp-hostsfile" "$E2E_WORK/out/dhcp/dploy.conf")" = 1/0
    dhcp_write_base_config proxy
    dhcp_start

    [ -f "$E2E_WORK/fleet/site/profiles/e2e-uefi.yaml" ] || e2e_profile e2e-uefi ipxe
    e2e_machine "$E2E_PROXY_NAME" "$E2E_PROXY_MAC" "$E2E_PROXY_IP" e2e-uefi 1
    uefi_machine "$E2E_PROXY_NAME" "$E2E_PROXY_MAC" tap3
    fleet_commit "$E2E_PROXY_NAME, on the network where the site's DHCP server hands out addresses"
    webhook
    assert "the run converged" converged_since_webhook

    # One boot: the install. Its disk boot would be step 13's again, after a minute's wait
    # for an HTTP boot offer that no server here makes (the firmware's next boot option).
    uefi_boots_start "$E2E_PROXY_NAME" 1
    uefi_boots_wait
    local name="$E2E_PROXY_NAME" site
    site="$(cat "$E2E_WORK/site-dhcp.log")"
    assert "the site's DHCP server (198.18.0.2) gave the machine its reserved address, with no boot file" \
        grep -qE "DHCPACK\(eth0\) ${E2E_PROXY_IP//./\\.} $E2E_PROXY_MAC" <<<"$site"
    assert "the site's DHCP server sent no boot file name (option 67)" none_of "sent size: *[0-9]* option: 67" "$site"
    assert "dploy's dnsmasq handed out no address" none_of "DHCPACK" "$(uefi_dhcp "$name" 1)"
    assert "dploy's dnsmasq answered the firmware's PXE requests as a proxy, with snponly.efi, then iPXE with the entry script" \
        grep_all "$(uefi_dhcp "$name" 1)" "PXE(br0) $E2E_PROXY_MAC proxy" "bootfile name: snponly.efi" \
            "bootfile name: http://198.18.0.1:8080/boot.ipxe"
    assert "TFTP: snponly.efi from dploy's TFTP server" \
        grep -q "^snponly.efi [0-9]* bytes" <<<"$(uefi_tftp "$name" 1 "$E2E_PROXY_IP")"
    assert "HTTP: iPXE asked dploy for its decision (the proxy gave it the entry script)" \
        grep -q "^GET /boot.ipxe 200 $E2E_PROXY_MAC" <<<"$(uefi_http "$name" 1 "$E2E_PROXY_IP")"
    E2E_UEFI_IP[$name]="$E2E_PROXY_IP"
    E2E_UEFI_MAC[$name]="$E2E_PROXY_MAC"
    expect_uefi_install "$name" 1 site
}
