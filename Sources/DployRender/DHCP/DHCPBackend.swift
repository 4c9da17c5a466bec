import DploySpec

/// The DHCP servers dploy renders configuration for (`dhcp.backend` in dploy.yaml). Owned
/// by the renderers, not by the controller's config: planning and the checker in DployApply
/// need to know which server they write for, and must not depend on the config.
public enum DHCPBackend: String, CaseIterable, Hashable, Sendable {
    case dnsmasq, isc, kea
    /// dnsmasq as a proxyDHCP beside another DHCP server that hands out the addresses:
    /// it answers only the network-boot part (which loader, from where).
    case dnsmasqProxy = "dnsmasq-proxy"

    /// Whether the files are dnsmasq's (a config and a `dhcp-hostsfile`), checked by `dnsmasq --test`.
    public var isDnsmasq: Bool { self == .dnsmasq || self == .dnsmasqProxy }
}

/// The IPv4 network a proxyDHCP answers on (`dhcp.network: 198.18.0.0/24`): dnsmasq's
/// `dhcp-range=<network>,proxy,<netmask>`.
public struct ProxyNetwork: Hashable, Sendable {
    public var address: String
    public var prefixLength: Int

    /// Parses `A.B.C.D/N`, N from 8 to 32, written with digits, dots and one slash only:
    /// the text goes into dnsmasq's config, and `inet_pton` stops reading at a NUL, which
    /// would let the rest of the text through as lines of its own. The address written is
    /// the parsed one, not the text.
    public static func parse(_ text: String) -> Result<ProxyNetwork, ValueError> {
        let failure = ValueError("is not an IPv4 network: \(Names.quoted(text)) (write it as 198.18.0.0/24)")
        guard text.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return .failure(failure) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[1].count), let length = Int(parts[1]), (8...32).contains(length),
              case .success(let address) = IPAddress.parse(String(parts[0])), case .v4 = address else { return .failure(failure) }
        return .success(ProxyNetwork(address: address.description, prefixLength: length))
    }

    public var netmask: String {
        let mask = UInt32.max << (32 - UInt32(prefixLength))
        return [24, 16, 8, 0].map { String((mask >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }
}
