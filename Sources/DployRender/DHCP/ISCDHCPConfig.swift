/// ISC dhcpd: an include file with the PXE options and one `host` per machine, for the
/// operator's dhcpd.conf to `include`.
public enum ISCDHCPConfig {
    public static func include(_ hosts: [DHCPHost], boot: DHCPBootOptions) -> String {
        var text = """
            # dploy: reservations and network boot options for ISC dhcpd. Generated; do not edit.
            option dploy-client-arch code 93 = unsigned integer 16;
            if exists user-class and option user-class = "iPXE" {
              filename "\(boot.entryScriptURL)";
            } elsif option dploy-client-arch = 00:07 or option dploy-client-arch = 00:09 {
              filename "\(boot.uefiFile)";
            } else {
              filename "\(boot.biosFile)";
            }

            """
        for host in hosts.sorted(by: { $0.name < $1.name }) {
            text += "host \(host.name) {\n  hardware ethernet \(host.mac);\n"
            if let ip = host.ipv4 { text += "  fixed-address \(ip);\n" }
            text += "  option host-name \"\(host.dhcpName)\";\n}\n"
        }
        return text
    }
}
