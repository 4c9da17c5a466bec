/// dnsmasq: a config file with the boot options and a `dhcp-hostsfile` of reservations,
/// which dnsmasq re-reads on SIGHUP without a restart.
public enum DnsmasqConfig {
    public static func hostsFile(_ hosts: [DHCPHost]) -> String {
        var lines = ["# dploy: DHCP reservations. Generated; do not edit."]
        for host in hosts.sorted(by: { $0.name < $1.name }) {
            // `set:pxelinux` / `set:grub`: the config below hands such a machine its loader.
            let tag = host.bootsOtherLoader ? "set:\(host.loader)" : nil
            lines.append(([host.mac.description] + [tag, host.ipv4, host.dhcpName].compactMap { $0 }).joined(separator: ","))
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
        dhcp-vendorclass=set:efi-http,HTTPClient
        # Machines whose profile boots pxelinux (on BIOS) or GRUB (on UEFI) get that loader,
        # also when their PXE ROM is iPXE; every other client boots iPXE.
        tag-if=set:via-pxelinux,tag:pxelinux,tag:!efi-x86_64,tag:!efi-http
        tag-if=set:via-grub,tag:grub,tag:efi-x86_64
        dhcp-boot=tag:via-pxelinux,\(boot.pxelinuxFile)
        dhcp-option=tag:via-pxelinux,210,"\(boot.pxelinuxPathPrefix)"
        dhcp-boot=tag:via-grub,\(boot.grubFile)
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:ipxe,\(boot.entryScriptURL)
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:!ipxe,tag:efi-http,\(boot.httpBootURL)
        dhcp-option-force=tag:!ipxe,tag:efi-http,60,HTTPClient
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:!ipxe,tag:!efi-http,tag:efi-x86_64,\(boot.uefiFile)
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:!ipxe,tag:!efi-http,tag:!efi-x86_64,\(boot.biosFile)

        """
    }
}
