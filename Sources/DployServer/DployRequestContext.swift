import Hummingbird

/// Hummingbird's basic context plus the address the request came from: boot decisions
/// count install attempts only for requests from a machine's reserved address.
public struct DployRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address as text (an IPv4-mapped IPv6 address as plain IPv4), nil when
    /// the channel has none (a Unix socket, the in-process test client).
    public let clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress.map(Self.plain)
    }

    static func plain(_ address: String) -> String {
        address.lowercased().hasPrefix("::ffff:") && address.contains(".") ? String(address.dropFirst(7)) : address
    }
}
