import Crypto
import DploySpec

/// The server's secret for install callbacks: a token is an HMAC-SHA256 over a machine's
/// MAC and the generation it installs, so a forged callback fails and a replayed one only
/// ever speaks for the generation it was issued for. Pure: the controller keeps the key's
/// file (`CallbackKeyFile`), since rendering writes nothing.
// @unchecked: SymmetricKey is immutable once made (swift-crypto does not mark it Sendable).
public struct CallbackKey: Hashable, @unchecked Sendable {
    public let bytes: [UInt8]
    /// Made once: every installer answer of a plan carries a token.
    let symmetricKey: SymmetricKey

    /// A new random key (256 bits).
    public static func random() -> CallbackKey {
        CallbackKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        symmetricKey = SymmetricKey(data: bytes)
    }

    public static func == (lhs: CallbackKey, rhs: CallbackKey) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    public func token(mac: MACAddress, generation: Int) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array("\(mac)|\(generation)".utf8), using: symmetricKey))
    }

    /// Constant-time check of a token from a callback.
    public func verify(_ token: String, mac: MACAddress, generation: Int) -> Bool {
        guard token.count == 64, let given = Hex.decode(token) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Array("\(mac)|\(generation)".utf8),
                                                      using: symmetricKey)
    }

    /// The token of one imaging run (`run` names the task, its revision and the machine):
    /// it authenticates the imaging environment's callbacks for that run and no other.
    public func token(imaging run: String, mac: MACAddress) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: Array("image|\(run)|\(mac)".utf8), using: symmetricKey))
    }

    /// Constant-time check of an imaging environment's token.
    public func verify(_ token: String, imaging run: String, mac: MACAddress) -> Bool {
        guard token.count == 64, let given = Hex.decode(token) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Array("image|\(run)|\(mac)".utf8),
                                                      using: symmetricKey)
    }
}
