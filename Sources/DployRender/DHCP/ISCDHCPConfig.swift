/// ISC dhcpd: an include file with the PXE options and one `host` per machine, for the
/// operator's dhcpd.conf to `include`.
public enum ISCDHCPConfig {
    public static func include(_ hosts: [DHCPHost], boot: DHCPBootOptions) -> String {
        include(hosts.sorted(by: { $0.name < $1.name }).map { ($0, entry($0)) }, boot: boot)
    }

    /// One host's `host` block, indented for the group its loader puts it in: what a planner
    /// keeps per machine, so that a one-machine change renders one block.
    public static func entry(_ host: DHCPHost) -> String {
        Self.host(host, indent: host.bootsOtherLoader ? "  " : "")
    }

    /// The include file from its hosts and their entries (`entry`), given in name order.
    public static func include(_ entries: [(host: DHCPHost, entry: String)], boot: DHCPBootOptions) -> String {
        var text = """
            # dploy: reservations and network boot options for ISC dhcpd. Generated; do not edit.
            option dploy-client-arch code 93 = unsigned integer 16;
            option dploy-pxelinux-path-prefix code 210 = text;
            if exists user-class and option user-class = "iPXE" {
              filename "\(boot.entryScriptURL)";
            } elsif substring(option vendor-class-identifier, 0, 10) = "HTTPClient" {
              option vendor-class-identifier "HTTPClient";
              filename "\(boot.httpBootURL)";
            } elsif option dploy-client-arch = 00:07 or option dploy-client-arch = 00:09 {
              filename "\(boot.uefiFile)";
            } else {
              filename "\(boot.biosFile)";
            }

            """
        for (host, entry) in entries where !host.bootsOtherLoader { text += entry }
        // A group's statements override the global ones for its hosts, when they apply.
        let pxelinux = entries.filter { $0.host.loader == .pxelinux }, grub = entries.filter { $0.host.loader == .grub }
        if !pxelinux.isEmpty {
            text += """
                group {
                  # Profiles that boot pxelinux, on BIOS clients (also behind an iPXE PXE ROM).
                  if not (option dploy-client-arch = 00:07 or option dploy-client-arch = 00:09
                          or substring(option vendor-class-identifier, 0, 10) = "HTTPClient") {
                    filename "\(boot.pxelinuxFile)";
                    option dploy-pxelinux-path-prefix "\(boot.pxelinuxPathPrefix)";
                    # Sent although the PXE ROM does not ask for it: pxelinux reads that answer.
                    option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, d2);
                  }

                """
            for (_, entry) in pxelinux { text += entry }
            text += "}\n"
        }
        if !grub.isEmpty {
            text += """
                group {
                  # Profiles that boot GRUB, on UEFI clients.
                  if option dploy-client-arch = 00:07 or option dploy-client-arch = 00:09 {
                    filename "\(boot.grubFile)";
                  }

                """
            for (_, entry) in grub { text += entry }
            text += "}\n"
        }
        return text
    }

    private static func host(_ host: DHCPHost, indent: String) -> String {
        var text = "\(indent)host \(host.name) {\n\(indent)  hardware ethernet \(host.mac);\n"
        if let ip = host.ipv4 { text += "\(indent)  fixed-address \(ip);\n" }
        return text + "\(indent)  option host-name \"\(host.dhcpName)\";\n\(indent)}\n"
    }
}
