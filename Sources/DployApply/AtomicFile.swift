import DploySpec
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that readers see the old contents or the new, never a mix: a temporary
/// file in the same folder, fsync, rename over the old one, fsync the folder.
public enum AtomicFile {
    /// Writes `contents` to a temporary file beside `path` and returns its path, without
    /// putting it in place: for contents that must be checked first, or for many files made
    /// durable together (`sync: false`, then `flush(_:)` once, then `commit`). The file gets
    /// exactly `mode`, and missing folders `folderMode`, whatever the umask (`FileModes`).
    public static func stage(_ contents: some ContiguousBytes, for path: String, sync: Bool = true,
                             mode: mode_t = FileModes.published, folderMode: mode_t = FileModes.publishedFolder) throws -> String {
        var made: [String] = []
        let temporary = try stage(contents, for: path, sync: sync, mode: mode, folderMode: folderMode, madeFolders: &made)
        // With the file durable, so is the path to it: each folder made is an entry in the one above.
        if sync { made.forEach(syncFolderOf) }
        return temporary
    }

    /// `stage`, adding the folders it made to `madeFolders` (outermost first) rather than
    /// syncing them: for a caller that syncs many files and folders after staging them all.
    public static func stage(_ contents: some ContiguousBytes, for path: String, sync: Bool, mode: mode_t = FileModes.published,
                             folderMode: mode_t = FileModes.publishedFolder, madeFolders: inout [String]) throws -> String {
        let folder = (path as NSString).deletingLastPathComponent
        do { madeFolders += try FileModes.createFolders(folder, mode: folderMode) } catch { throw ApplyError.io(path, error.description) }
        let name = (path as NSString).lastPathComponent
        let temporary = "\(folder)/.\(name).dploy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw ApplyError.io(path, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fchmod(descriptor, mode) == 0 else {
            unlink(temporary)
            throw ApplyError.io(path, "cannot set the mode of \(temporary): \(String(cString: strerror(errno)))")
        }
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
        guard !sync || fsync(descriptor) == 0 else {
            unlink(temporary)
            throw ApplyError.io(path, "fsync failed: \(String(cString: strerror(errno)))")
        }
        return temporary
    }

    /// Makes every file staged with `sync: false` on the filesystem of `folder` durable
    /// with one `syncfs`, instead of one `fsync` per file: thirty thousand boot files take
    /// seconds, not minutes.
    public static func flush(_ folder: String) throws {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ApplyError.io(folder, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard linuxSyncfs(descriptor) == 0 else { throw ApplyError.io(folder, "syncfs failed: \(String(cString: strerror(errno)))") }
    }

    /// fsyncs a file staged with `sync: false`, on its own: for a few files, where `flush`'s
    /// syncfs would also wait for everything else dirty on the filesystem.
    public static func sync(_ temporary: String, for path: String) throws {
        let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw ApplyError.io(path, "fsync failed: \(reason)")
        }
        close(descriptor)
    }

    /// Renames a staged file into place and, unless the caller syncs folders itself, makes
    /// the rename durable.
    public static func commit(_ temporary: String, to path: String, syncFolder: Bool = true) throws {
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ApplyError.io(path, "rename failed: \(reason)")
        }
        if syncFolder { syncFolderOf(path) }
    }

    /// fsyncs the folder holding `path`, so a rename in it survives a crash.
    public static func syncFolderOf(_ path: String) {
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    public static func write(_ contents: [UInt8], to path: String, mode: mode_t = FileModes.published,
                             folderMode: mode_t = FileModes.publishedFolder) throws {
        try commit(try stage(contents, for: path, mode: mode, folderMode: folderMode), to: path)
    }

    public static func discard(_ temporary: String) { unlink(temporary) }
}

/// `syncfs(2)`: Linux-only, so Glibc's Swift overlay does not declare it.
@_silgen_name("syncfs")
private func linuxSyncfs(_ descriptor: Int32) -> Int32
