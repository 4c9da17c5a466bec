/// dnsmasq: a config file with the boot options and a `dhcp-hostsfile` of reservations.
/// dnsmasq rereads only the hosts file on SIGHUP; the config, when it starts.
///
/// The hosts file carries no tags. dnsmasq 2.90 (Debian 12's) dies of a general protection
/// fault on SIGHUP when its hosts file has a `set:` tag on a host that holds a lease (the
/// e2e's step 13 found it; four lines of hosts file and one lease reproduce it). So each
/// machine's loader tag is a `dhcp-mac` line of the config, which dnsmasq reads when it
/// starts: a change of loader takes a restart, as any change of the config does.
public enum DnsmasqConfig {
    public static func hostsFile(_ hosts: [DHCPHost]) -> String {
        hostsFile(entries: hosts.sorted(by: { $0.name < $1.name }).map(hostsEntry))
    }

    /// The hosts file from its hosts' entries (`hostsEntry`), given in name order: a planner
    /// that keeps each machine's entry rebuilds the file after a one-machine change without
    /// rendering the other machines again.
    public static func hostsFile(entries: some Sequence<String>) -> String {
        var text = "# dploy: DHCP reservations. Generated; do not edit.\n"
        for entry in entries { text += entry }
        return text
    }

    /// One host's lines of the hosts file, each ending in a newline.
    public static func hostsEntry(_ host: DHCPHost) -> String {
        let name = readsAsKeyword(host.dhcpName) ? nil : host.dhcpName
        let note = name == nil ? "# \(host.name): no name handed out: dnsmasq reads '\(host.dhcpName)' as a keyword here\n" : ""
        return note + ([host.mac.description] + [host.ipv4, name].compactMap { $0 }).joined(separator: ",") + "\n"
    }

    /// Whether dnsmasq reads this word of a `dhcp-host` line as something else than a name:
    /// `ignore` (no DHCP at all for the MAC), `infinite` or digits with an optional unit (a
    /// lease time). Valid host names all; written as the last field, they would turn a
    /// reservation into a refusal, or hand out no name.
    static func readsAsKeyword(_ word: String) -> Bool {
        let lowered = word.lowercased()
        if lowered == "ignore" || lowered == "infinite" { return true }
        let digits = lowered.last.map { "smhdw".contains($0) } == true ? lowered.dropLast() : Substring(lowered)
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
    }

    /// - Parameter hostsFilePath: where the hosts file will live, as dnsmasq should open it.
    /// - Parameter hosts: the machines; those whose profile boots pxelinux or GRUB are tagged.
    public static func config(boot: DHCPBootOptions, hostsFilePath: String, hosts: [DHCPHost] = []) -> String {
        """
        # dploy: network boot options for dnsmasq. Generated; do not edit.
        dhcp-hostsfile=\(hostsFilePath)
        \(loaderTags(hosts))
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
        # Forced: the PXE ROM's request does not ask for option 210, and pxelinux reads that answer.
        dhcp-option-force=tag:via-pxelinux,210,"\(boot.pxelinuxPathPrefix)"
        dhcp-boot=tag:via-grub,\(boot.grubFile)
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:ipxe,\(boot.entryScriptURL)
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:!ipxe,tag:efi-http,\(boot.httpBootURL)
        dhcp-option-force=tag:!ipxe,tag:efi-http,60,HTTPClient
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:!ipxe,tag:!efi-http,tag:efi-x86_64,\(boot.uefiFile)
        dhcp-boot=tag:!via-pxelinux,tag:!via-grub,tag:!ipxe,tag:!efi-http,tag:!efi-x86_64,\(boot.biosFile)

        """
    }

    /// `dhcp-mac=set:pxelinux,MAC` (or `grub`) per machine whose profile boots that loader:
    /// the rules below hand it its loader. In the config, not the hosts file (see above).
    static func loaderTags(_ hosts: [DHCPHost]) -> String {
        let tagged = hosts.filter(\.bootsOtherLoader).sorted { $0.name < $1.name }
        guard !tagged.isEmpty else { return "# No machine boots another loader than iPXE." }
        return (["# The machines whose profile boots another loader than iPXE (read when dnsmasq starts)."]
            + tagged.map { "dhcp-mac=set:\($0.loader),\($0.mac)" }).joined(separator: "\n")
    }

    /// proxyDHCP: another server hands out the addresses; this dnsmasq adds only which
    /// loader to boot, by PXE service per architecture (the client fetches it over TFTP from
    /// this host: dploy's TFTP server, or dnsmasq's own). iPXE, once loaded, gets the entry
    /// script. Each machine's own loader comes from a `dhcp-mac` tag, as in `config`: no
    /// hosts file, so nothing that dnsmasq 2.90 could crash rereading (a proxy that once
    /// served addresses keeps their leases in its lease file).
    public static func proxyConfig(boot: DHCPBootOptions, network: ProxyNetwork, hosts: [DHCPHost] = []) -> String {
        """
        # dploy: proxyDHCP boot options for dnsmasq, beside the DHCP server that hands out
        # the addresses on \(network.address)/\(network.prefixLength). Generated; do not edit.
        dhcp-range=\(network.address),proxy,\(network.netmask)
        \(loaderTags(hosts))
        # iPXE announces itself with user class "iPXE" and option 175.
        dhcp-userclass=set:ipxe,iPXE
        dhcp-match=set:ipxe,175
        dhcp-boot=tag:ipxe,\(boot.entryScriptURL)
        pxe-prompt="dploy",0
        # A loaded iPXE (tag ipxe) asks again: it gets the script above, not iPXE once more.
        pxe-service=tag:pxelinux,x86PC,"dploy: pxelinux",\(boot.pxelinuxFile)
        pxe-service=tag:!pxelinux,tag:!ipxe,x86PC,"dploy: iPXE",\(boot.biosFile)
        pxe-service=tag:grub,x86-64_EFI,"dploy: GRUB",\(boot.grubFile)
        pxe-service=tag:!grub,tag:!ipxe,x86-64_EFI,"dploy: iPXE",\(boot.uefiFile)
        pxe-service=tag:grub,BC_EFI,"dploy: GRUB",\(boot.grubFile)
        pxe-service=tag:!grub,tag:!ipxe,BC_EFI,"dploy: iPXE",\(boot.uefiFile)

        """
    }
}
