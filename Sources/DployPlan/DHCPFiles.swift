import DployRender
import DploySpec

/// The DHCP files of each backend, named after the configured file.
///
/// Each machine's part of them (its `entry`) is rendered once and kept with the machine's
/// plan (`MachineOutcome`): the files are put together from the entries, so a change to one
/// machine renders one entry, not the fleet's. Kea's JSON is written whole.
enum DHCPFiles {
    /// A host's part of the backend's file; nil for a backend whose file is written whole.
    static func entry(_ host: DHCPHost, backend: DHCPBackend) -> String? {
        switch backend {
        case .dnsmasq: DnsmasqConfig.hostsEntry(host)
        case .isc: ISCDHCPConfig.entry(host)
        case .dnsmasqProxy, .kea: nil
        }
    }

    /// - Parameter hosts: in name order, each with its `entry` for this backend.
    static func render(_ dhcp: PlanSettings.DHCP, hosts: [(host: DHCPHost, entry: String?)], boot: DHCPBootOptions) -> [OutputPath: String] {
        let fileName = dhcp.fileName
        func entries() -> [(host: DHCPHost, entry: String)] {
            hosts.map { ($0.host, $0.entry ?? entry($0.host, backend: dhcp.backend) ?? "") }
        }
        switch dhcp.backend {
        case .dnsmasq:
            let hostsName = hostsFileName(for: fileName)
            return [
                OutputPath(.dhcp, fileName): DnsmasqConfig.config(boot: boot, hostsFilePath: dhcp.folder + "/" + hostsName,
                                                                  hosts: hosts.map(\.host)),
                OutputPath(.dhcp, hostsName): DnsmasqConfig.hostsFile(entries: entries().lazy.map(\.entry)),
            ]
        case .dnsmasqProxy:
            guard let network = dhcp.proxyNetwork else { preconditionFailure("dhcp.network is required for dnsmasq-proxy (checked when the config loads)") }
            return [OutputPath(.dhcp, fileName): DnsmasqConfig.proxyConfig(boot: boot, network: network, hosts: hosts.map(\.host))]
        case .isc:
            return [OutputPath(.dhcp, fileName): ISCDHCPConfig.include(entries(), boot: boot)]
        case .kea:
            return [OutputPath(.dhcp, fileName): KeaConfig.config(hosts.map(\.host), boot: boot)]
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
