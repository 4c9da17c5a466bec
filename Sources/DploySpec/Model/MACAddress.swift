/// A 48-bit Ethernet address, always written lower-case with colons (`94:18:82:00:00:01`),
/// whichever form the operator used (`94-18-82-00-00-01`, upper case).
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let octets: [UInt8]

    public init?(_ text: String) {
        guard case .success(let mac) = MACAddress.parse(text) else { return nil }
        self = mac
    }

    private init(octets: [UInt8]) { self.octets = octets }

    public static func parse(_ text: String) -> Result<MACAddress, ValueError> {
        let failure = ValueError("is not a MAC address: '\(text)' (expected six hex pairs, like 94:18:82:00:00:01)")
        let separator: Character = text.contains("-") ? "-" : ":"
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        guard parts.count == 6 else { return .failure(failure) }
        var octets: [UInt8] = []
        for part in parts {
            guard part.count == 2, let octet = UInt8(part, radix: 16) else { return .failure(failure) }
            octets.append(octet)
        }
        return .success(MACAddress(octets: octets))
    }

    /// The form iPXE's `${net0/mac:hexhyp}` and pxelinux file names use: `94-18-82-00-00-01`.
    public var hyphenated: String { String(description.map { $0 == ":" ? "-" : $0 }) }

    public var description: String {
        octets.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.octets.lexicographicallyPrecedes(rhs.octets) }
}
