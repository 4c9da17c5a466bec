#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, parsed by the C library's `inet_pton` so dploy accepts exactly
/// what DHCP servers and the kernel accept, and printed in canonical form.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    public static func parse(_ text: String) -> Result<IPAddress, ValueError> {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return .success(.v4(withUnsafeBytes(of: &v4) { Array($0) }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return .success(.v6(withUnsafeBytes(of: &v6) { Array($0) }))
        }
        return .failure(ValueError("is not an IPv4 or IPv6 address: '\(text)'"))
    }

    public var description: String {
        switch self {
        case .v4(let bytes):
            return bytes.map(String.init).joined(separator: ".")
        case .v6(let bytes):
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
