import DployRender
import DploySpec

/// The DHCP files of each backend, named after the configured file.
enum DHCPFiles {
    static func render(_ dhcp: PlanSettings.DHCP, hosts: [DHCPHost], boot: DHCPBootOptions) -> [OutputPath: String] {
        let fileName = dhcp.fileName
        switch dhcp.backend {
        case .dnsmasq:
            let hostsName = hostsFileName(for: fileName)
            return [
                OutputPath(.dhcp, fileName): DnsmasqConfig.config(boot: boot, hostsFilePath: dhcp.folder + "/" + hostsName, hosts: hosts),
                OutputPath(.dhcp, hostsName): DnsmasqConfig.hostsFile(hosts),
            ]
        case .dnsmasqProxy:
            guard let network = dhcp.proxyNetwork else { preconditionFailure("dhcp.network is required for dnsmasq-proxy (checked when the config loads)") }
            return [OutputPath(.dhcp, fileName): DnsmasqConfig.proxyConfig(boot: boot, network: network, hosts: hosts)]
        case .isc:
            return [OutputPath(.dhcp, fileName): ISCDHCPConfig.include(hosts, boot: boot)]
        case .kea:
            return [OutputPath(.dhcp, fileName): KeaConfig.config(hosts, boot: boot)]
        }
    }

    static func hostsFileName(for fileName: String) -> String { DnsmasqFiles.hostsFileName(for: fileName) }
}

public enum DnsmasqFiles {
    /// `dploy.conf` → `dploy.hosts`: the reservations beside the config that names them.
    public static func hostsFileName(for fileName: String) -> String {
        let stem = fileName.hasSuffix(".conf") ? String(fileName.dropLast(5)) : fileName
        return stem + ".hosts"
    }
}
