import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A secret kept in a file of its own: the webhook's shared secret, the web token. The
/// file must be readable by its owner only, like an SSH key; the secret is never logged.
public enum SecretFile {
    /// The file's first line, trimmed.
    public static func read(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SecretFileError.unreadable(path, String(cString: strerror(errno))) }
        guard info.st_mode & 0o077 == 0 else {
            throw SecretFileError.tooOpen(path, String(info.st_mode & 0o777, radix: 8))
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SecretFileError.unreadable(path, "not UTF-8 text, or permission denied")
        }
        let secret = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !secret.isEmpty else { throw SecretFileError.empty(path) }
        return secret
    }

    /// Reads the secret, first writing a random one (32 bytes, hex, mode 0600) when the
    /// file does not exist.
    public static func readOrCreate(_ path: String) throws -> String {
        if !FileManager.default.fileExists(atPath: path) {
            var bytes = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for index in bytes.indices { bytes[index] = generator.next() }
            let token = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                let line = token + "\n"
                _ = line.withCString { write(fd, $0, strlen($0)) }
                fsync(fd)
                close(fd)
            } else if errno != EEXIST {
                throw SecretFileError.unreadable(path, String(cString: strerror(errno)))
            }
        }
        return try read(path)
    }
}

public enum SecretFileError: Error, CustomStringConvertible {
    case unreadable(String, String)
    case tooOpen(String, String)
    case empty(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read the secret file \(path): \(reason)"
        case .tooOpen(let path, let mode):
            "the secret file \(path) has mode \(mode): others can read it; make it the dploy user's own, mode 0600 "
                + "(chown USER \(path); chmod 600 \(path))"
        case .empty(let path): "the secret file \(path) is empty"
        }
    }
}
