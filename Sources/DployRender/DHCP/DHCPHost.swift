import DploySpec

/// One DHCP reservation: a machine's MAC, and its address and name when it has them.
public struct DHCPHost: Hashable, Sendable {
    public var name: String
    public var mac: MACAddress
    public var ip: IPAddress?
    public var hostname: String?

    public init(_ machine: EffectiveMachine) {
        name = machine.name
        mac = machine.machine.mac.value
        ip = machine.machine.ip?.value
        hostname = machine.settings.hostname
    }

    /// The IPv4 address, if any: the DHCPv4 servers dploy configures ignore IPv6 ones.
    var ipv4: String? {
        if case .v4? = ip { return ip?.description }
        return nil
    }

    /// The short host name DHCP hands out.
    var dhcpName: String { hostname.map { String($0.prefix { $0 != "." }) } ?? name }
}

/// How a network-booting client finds its boot program: legacy BIOS and UEFI clients get
/// iPXE over TFTP; iPXE itself (seen by its user class or option 175) gets the entry script.
public struct DHCPBootOptions: Hashable, Sendable {
    public var server: BootServer
    public var biosFile = "undionly.kpxe"
    public var uefiFile = "ipxe.efi"

    public init(server: BootServer) { self.server = server }

    var entryScriptURL: String { server.url + "/" + BootPaths.ipxeEntry.path }
}
