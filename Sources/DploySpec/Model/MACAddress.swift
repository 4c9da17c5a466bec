/// A 48-bit Ethernet address, always written lower-case with colons (`94:18:82:00:00:01`),
/// whichever form the operator used (`94-18-82-00-00-01`, upper case).
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The six octets in the low 48 bits, first octet highest: no allocation per address.
    public let value: UInt64

    public init?(_ text: String) {
        guard case .success(let mac) = MACAddress.parse(text) else { return nil }
        self = mac
    }

    private init(value: UInt64) { self.value = value }

    public static func parse(_ text: String) -> Result<MACAddress, ValueError> {
        let failure = ValueError("is not a MAC address: '\(text)' (expected six hex pairs, like 94:18:82:00:00:01)")
        let bytes = Array(text.utf8)
        guard bytes.count == 17 else { return .failure(failure) }
        let separator = bytes[2]
        guard separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else { return .failure(failure) }
        var value: UInt64 = 0
        for octet in 0..<6 {
            let at = octet * 3
            if octet > 0 && bytes[at - 1] != separator { return .failure(failure) }
            guard let high = hexValue(bytes[at]), let low = hexValue(bytes[at + 1]) else { return .failure(failure) }
            value = value << 8 | UInt64(high << 4 | low)
        }
        return .success(MACAddress(value: value))
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public var octets: [UInt8] { (0..<6).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

    /// The form iPXE's `${net0/mac:hexhyp}` and pxelinux file names use: `94-18-82-00-00-01`.
    public var hyphenated: String { formatted(separator: UInt8(ascii: "-")) }

    public var description: String { formatted(separator: UInt8(ascii: ":")) }

    /// Seventeen bytes written directly: every boot file name and DHCP line needs one.
    private func formatted(separator: UInt8) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 17) { buffer in
            for octet in 0..<6 {
                let byte = Int(truncatingIfNeeded: value >> UInt64(8 * (5 - octet))) & 0xFF
                buffer[octet * 3] = digits[byte >> 4]
                buffer[octet * 3 + 1] = digits[byte & 0xF]
                if octet < 5 { buffer[octet * 3 + 2] = separator }
            }
            return 17
        }
    }

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }
}
