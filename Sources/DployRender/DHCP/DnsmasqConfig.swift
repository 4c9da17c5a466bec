/// dnsmasq: a config file with the boot options and a `dhcp-hostsfile` of reservations,
/// which dnsmasq re-reads on SIGHUP without a restart.
public enum DnsmasqConfig {
    public static func hostsFile(_ hosts: [DHCPHost]) -> String {
        var lines = ["# dploy: DHCP reservations. Generated; do not edit."]
        for host in hosts.sorted(by: { $0.name < $1.name }) {
            lines.append(([host.mac.description] + [host.ipv4, host.dhcpName].compactMap { $0 }).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// - Parameter hostsFilePath: where the hosts file will live, as dnsmasq should open it.
    public static func config(boot: DHCPBootOptions, hostsFilePath: String) -> String {
        """
        # dploy: network boot options for dnsmasq. Generated; do not edit.
        dhcp-hostsfile=\(hostsFilePath)
        # iPXE announces itself with user class "iPXE" and option 175.
        dhcp-userclass=set:ipxe,iPXE
        dhcp-match=set:ipxe,175
        dhcp-match=set:efi-x86_64,option:client-arch,7
        dhcp-match=set:efi-x86_64,option:client-arch,9
        dhcp-boot=tag:ipxe,\(boot.entryScriptURL)
        dhcp-boot=tag:!ipxe,tag:efi-x86_64,\(boot.uefiFile)
        dhcp-boot=tag:!ipxe,tag:!efi-x86_64,\(boot.biosFile)

        """
    }
}
