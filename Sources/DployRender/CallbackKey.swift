import Crypto
import DploySpec
import Foundation

/// The server's secret for install callbacks: a token is an HMAC-SHA256 over a machine's
/// MAC and the generation it installs, so a forged callback fails and a replayed one only
/// ever speaks for the generation it was issued for.
// @unchecked: SymmetricKey is immutable once made (swift-crypto does not mark it Sendable).
public struct CallbackKey: Hashable, @unchecked Sendable {
    let bytes: [UInt8]
    /// Made once: every installer answer of a plan carries a token.
    let symmetricKey: SymmetricKey

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

    /// Reads the key at `path`, creating it (32 random bytes, mode 0600) the first time.
    /// A key file that is readable by others, or not a key, is refused rather than
    /// replaced: replacing it would void every token already handed out.
    public static func loadOrCreate(at path: String) throws -> CallbackKey {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path) {
            if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
                throw CallbackKeyError.exposed(path, mode)
            }
            guard let data = FileManager.default.contents(atPath: path),
                  let bytes = Hex.decode(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                  bytes.count == 32 else { throw CallbackKeyError.invalid(path) }
            return CallbackKey(bytes: bytes)
        }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        // Created 0600 from the first byte: never readable by others, even for a moment.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CallbackKeyError.invalid(path) }
        defer { close(descriptor) }
        let hex = Array((Hex.encode(key) + "\n").utf8)
        guard write(descriptor, hex, hex.count) == hex.count, fsync(descriptor) == 0 else { throw CallbackKeyError.invalid(path) }
        return CallbackKey(bytes: key)
    }

    public enum CallbackKeyError: Error, CustomStringConvertible {
        case exposed(String, Int)
        case invalid(String)

        public var description: String {
            switch self {
            case .exposed(let path, let mode):
                "\(path) is readable by others (mode \(String(mode, radix: 8))); chmod 600 it: anyone with it can mark installs done"
            case .invalid(let path):
                "\(path) is not a dploy callback key (64 hex digits); move it away to have a new one made (outstanding install tokens stop working)"
            }
        }
    }
}
