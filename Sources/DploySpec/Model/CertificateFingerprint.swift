/// The SHA-256 fingerprint of a certificate (the whole DER certificate, not its key): what
/// `openssl x509 -fingerprint -sha256` prints and iLO's certificate page shows. Operators copy
/// it in either spelling, so both `AA:BB:…` (32 colon-separated pairs) and 64 plain hex digits
/// are read, in any case.
public struct CertificateFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes of the digest.
    public let bytes: [UInt8]

    public init?(_ text: String) {
        guard case .success(let fingerprint) = Self.parse(text) else { return nil }
        self = fingerprint
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    public static func parse(_ text: String) -> Result<CertificateFingerprint, ValueError> {
        let failure = ValueError("is not a SHA-256 certificate fingerprint: '\(text)' (use 32 colon-separated hex pairs as "
            + "`openssl x509 -fingerprint -sha256 -noout` prints them, or 64 hex digits)")
        let pairs = text.split(separator: ":", omittingEmptySubsequences: false)
        let digits: String
        if pairs.count == 32, pairs.allSatisfy({ $0.utf8.count == 2 }) {
            digits = pairs.joined()
        } else if pairs.count == 1 {
            digits = text
        } else {
            return .failure(failure)
        }
        guard digits.utf8.count == 64, let bytes = Hex.decode(digits) else { return .failure(failure) }
        return .success(CertificateFingerprint(checked: bytes))
    }

    private init(checked bytes: [UInt8]) { self.bytes = bytes }

    /// `AB:CD:…`, upper case, as openssl and iLO show it, so an operator can compare by eye.
    public var description: String {
        Hex.encode(bytes).uppercased().utf8.enumerated().reduce(into: "") { text, pair in
            if pair.offset > 0 && pair.offset % 2 == 0 { text += ":" }
            text.unicodeScalars.append(Unicode.Scalar(pair.element))
        }
    }
}
