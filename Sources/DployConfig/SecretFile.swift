import DploySpec
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A secret kept in a file of its own: the webhook's shared secret, the web token. Read
/// with the same rule as the secrets folder (`PrivateFile`); the secret is never logged.
public enum SecretFile {
    /// The file's first line, trimmed (a CRLF file reads the same as an LF one).
    public static func read(_ path: String) throws(SecretError) -> String {
        let data = try PrivateFile.read(path, missing: "create it with the secret on one line, mode 0600")
        let text = String(decoding: data, as: UTF8.self)
        let secret = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !secret.isEmpty else { throw SecretError(file: path, problem: "is empty") }
        return secret
    }

    /// Reads the secret, first writing a random one (32 bytes, hex, mode 0600) when the
    /// file does not exist.
    public static func readOrCreate(_ path: String) throws(SecretError) -> String {
        if !FileManager.default.fileExists(atPath: path) {
            var generator = SystemRandomNumberGenerator()
            let token = Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
            // Created 0600 from the first byte; O_EXCL: a file made meanwhile is read, not replaced.
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                let line = Array((token + "\n").utf8)
                _ = write(fd, line, line.count)
                fsync(fd)
                close(fd)
            } else if errno != EEXIST {
                throw SecretError(file: path, problem: "cannot create the secret (\(String(cString: strerror(errno))))")
            }
        }
        return try read(path)
    }
}

/// A file only its owner may read: a secret that other local users can read is already
/// leaked, and saying so early is the kind thing. The one rule for the secrets folder and
/// single secret files.
enum PrivateFile {
    /// - Parameter missing: what to do when the file is not there, for the message.
    static func read(_ path: String, missing: String) throws(SecretError) -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecretError(file: path, problem: "cannot read the secret (\(String(cString: strerror(errno)))); \(missing)")
        }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw SecretError(file: path, problem: "is readable by group or others (mode \(String(mode, radix: 8))); run 'chmod 600 \(path)'")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretError(file: path, problem: "cannot read the secret (permission denied?)")
        }
        return data
    }
}
