import DployRender
import DploySpec
import Foundation

/// `STATE/callback.key`: the install callbacks' key, 64 hex digits, mode 0600. Kept by the
/// controller, not by DployRender, which only signs: reading it is the plan's business,
/// making it belongs to the commands that write (`dploy apply`, `dploy serve`, the loop's
/// applying runs, `dploy plan --out`), so that `dploy plan` changes nothing on disk.
public struct CallbackKeyFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The key, or nil when no command that writes has made it yet. A key file that is
    /// readable by others, or not a key, is refused rather than ignored: replacing it would
    /// void every token already handed out.
    public func read() throws(CallbackKeyError) -> CallbackKey? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw .exposed(path, mode)
        }
        guard let data = FileManager.default.contents(atPath: path),
              let bytes = Hex.decode(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
              bytes.count == 32 else { throw .invalid(path) }
        return CallbackKey(bytes: bytes)
    }

    /// Reads the key, first writing it when there is none: 32 random bytes, or what `make`
    /// gives (the key a shared store holds for all its controllers).
    @discardableResult
    public func readOrCreate(_ make: () throws -> CallbackKey = { CallbackKey.random() }) throws -> CallbackKey {
        if let key = try read() { return key }
        let key = try make()
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileModes.createFolders(folder, mode: FileModes.stateFolder) }
        // Created 0600 from the first byte: never readable by others, even for a moment.
        // O_EXCL: a key made meanwhile by another dploy is read, not replaced.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST, let made = try read() { return made }
            throw CallbackKeyError.invalid(path)
        }
        defer { close(descriptor) }
        let hex = Array((Hex.encode(key.bytes) + "\n").utf8)
        guard write(descriptor, hex, hex.count) == hex.count, fsync(descriptor) == 0 else { throw CallbackKeyError.invalid(path) }
        return key
    }
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
