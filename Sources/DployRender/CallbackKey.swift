import Crypto
import DploySpec
import Foundation

/// The server's secret for install callbacks: a token is an HMAC-SHA256 over a machine's
/// MAC and the generation it installs, so a forged callback fails and a replayed one only
/// ever speaks for the generation it was issued for.
public struct CallbackKey: Hashable, Sendable {
    let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public func token(mac: MACAddress, generation: Int) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(mac)|\(generation)".utf8), using: SymmetricKey(data: bytes))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// Constant-time check of a token from a callback.
    public func verify(_ token: String, mac: MACAddress, generation: Int) -> Bool {
        guard token.count == 64, let given = Self.bytes(hex: token) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Array("\(mac)|\(generation)".utf8),
                                                      using: SymmetricKey(data: bytes))
    }

    /// Reads the key at `path`, creating it (32 random bytes, mode 0600) the first time.
    public static func loadOrCreate(at path: String) throws -> CallbackKey {
        if let data = FileManager.default.contents(atPath: path),
           let bytes = Self.bytes(hex: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
           bytes.count == 32 {
            return CallbackKey(bytes: bytes)
        }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let hex = key.map { String(format: "%02x", $0) }.joined() + "\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(hex.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        return CallbackKey(bytes: key)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
