#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, parsed by the C library's `inet_pton` so dploy accepts exactly
/// what DHCP servers and the kernel accept, and printed in canonical form.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// In network byte order, as `inet_pton` writes it.
    case v4(UInt32)
    case v6(UInt64, UInt64)

    public static func parse(_ text: String) -> Result<IPAddress, ValueError> {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return .success(.v4(v4.s_addr)) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let halves = withUnsafeBytes(of: &v6) { ($0.load(as: UInt64.self), $0.load(fromByteOffset: 8, as: UInt64.self)) }
            return .success(.v6(halves.0, halves.1))
        }
        return .failure(ValueError("is not an IPv4 or IPv6 address: '\(text)'"))
    }

    /// An IPv4 address written as IPv6 (`::ffff:198.18.0.21`, what a dual-stack socket reports
    /// for an IPv4 peer) as the IPv4 address it is; any other address as it is.
    public var unmapped: IPAddress {
        guard case .v6(let high, let low) = self else { return self }
        let bytes = withUnsafeBytes(of: (high, low)) { Array($0) }
        guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF else { return self }
        return .v4(bytes[12..<16].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch self {
        case .v4(let raw):
            var address = in_addr(s_addr: raw)
            inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
        case .v6(let high, let low):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) {
                $0.storeBytes(of: high, as: UInt64.self)
                $0.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
            }
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
