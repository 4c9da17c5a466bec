import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that readers see the old contents or the new, never a mix: a temporary
/// file in the same folder, fsync, rename over the old one, fsync the folder.
public enum AtomicFile {
    /// Writes `contents` to a temporary file beside `path` and returns its path, without
    /// putting it in place: for contents that must be checked first.
    public static func stage(_ contents: [UInt8], for path: String) throws -> String {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let name = (path as NSString).lastPathComponent
        let temporary = "\(folder)/.\(name).dploy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ApplyError.io(path, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var written = 0
        try contents.withUnsafeBytes { buffer in
            while written < buffer.count {
                let count = Glibc.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                guard count > 0 else {
                    unlink(temporary)
                    throw ApplyError.io(path, "write failed: \(String(cString: strerror(errno)))")
                }
                written += count
            }
        }
        guard fsync(descriptor) == 0 else {
            unlink(temporary)
            throw ApplyError.io(path, "fsync failed: \(String(cString: strerror(errno)))")
        }
        return temporary
    }

    /// Renames a staged file into place and makes the rename durable.
    public static func commit(_ temporary: String, to path: String) throws {
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ApplyError.io(path, "rename failed: \(reason)")
        }
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    public static func write(_ contents: [UInt8], to path: String) throws {
        try commit(try stage(contents, for: path), to: path)
    }

    public static func discard(_ temporary: String) { unlink(temporary) }
}
