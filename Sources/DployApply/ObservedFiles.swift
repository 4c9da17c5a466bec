import DployPlan
import DployRender
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the files dploy manages, as they are on disk now: the observed half of a plan.
///
/// Plain POSIX calls (readdir, fstatat, open, read): a fleet of ten thousand machines
/// means some thirty thousand small files. With an `ObservationCache` (the daemon keeps
/// one), a file whose device, inode, size, mtime and ctime are unchanged is not read again,
/// as git's index does for a work tree.
public enum ObservedFiles {
    /// - Parameter dhcpFileNames: the DHCP files of the configured backend; the rest of the
    ///   DHCP folder belongs to the operator and is never read.
    public static func read(_ folders: OutputFolders, dhcpFileNames: [String],
                            cache: ObservationCache? = nil) throws -> [OutputPath: [UInt8]] {
        let cache = cache ?? ObservationCache()
        var files: [OutputPath: [UInt8]] = [:]
        for (root, folder) in ObservedState.managedFolders {
            try walk(folders.folder(root) + "/" + folder, relative: folder, cache: cache) { relative, contents in
                files[OutputPath(root, relative)] = contents
            }
        }
        for single in [BootPaths.ipxeEntry] + dhcpFileNames.map({ OutputPath(.dhcp, $0) }) {
            var status = stat()
            let path = folders.diskPath(single)
            guard lstat(path, &status) == 0 else { continue }
            if let contents = try cache.contents(of: path, status: status) { files[single] = contents }
        }
        return files
    }

    /// Calls `visit` for every regular file below `path`, skipping hidden names (staged temporaries).
    private static func walk(_ path: String, relative: String, cache: ObservationCache,
                             _ visit: (String, [UInt8]) -> Void) throws {
        guard let directory = opendir(path) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { buffer in
                String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            var status = stat()
            guard fstatat(dirfd(directory), name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let child = path + "/" + name
            if (status.st_mode & S_IFMT) == S_IFDIR {
                try walk(child, relative: relative + "/" + name, cache: cache, visit)
            } else if let contents = try cache.contents(of: child, status: status) {
                visit(relative + "/" + name, contents)
            }
        }
    }
}

/// Contents of files read before, with the stat data they were read under. Not Sendable in
/// spirit: one reconcile loop owns it.
public final class ObservationCache: @unchecked Sendable {
    struct Entry {
        var device: UInt64, inode: UInt64, size: Int64
        var modified: timespec, changed: timespec
        var contents: [UInt8]

        func matches(_ status: stat) -> Bool {
            device == UInt64(status.st_dev) && inode == UInt64(status.st_ino) && size == Int64(status.st_size)
                && modified.tv_sec == status.st_mtim.tv_sec && modified.tv_nsec == status.st_mtim.tv_nsec
                && changed.tv_sec == status.st_ctim.tv_sec && changed.tv_nsec == status.st_ctim.tv_nsec
        }
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    /// The file's bytes, from the cache when its stat data is unchanged; nil for anything
    /// but a regular file.
    func contents(of path: String, status: stat) throws -> [UInt8]? {
        guard (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        if let entry = entries[path], entry.matches(status) { return entry.contents }
        guard let (contents, readStatus) = try Self.read(path) else { return nil }
        entries[path] = Entry(device: UInt64(readStatus.st_dev), inode: UInt64(readStatus.st_ino),
                              size: Int64(readStatus.st_size), modified: readStatus.st_mtim,
                              changed: readStatus.st_ctim, contents: contents)
        return contents
    }

    /// A regular file's bytes and the stat data they belong to, or nil when there is no regular file there.
    private static func read(_ path: String) throws -> ([UInt8], stat)? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT || errno == EISDIR { return nil }
            throw ApplyError.unreadable(path)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ApplyError.unreadable(path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            guard count > 0 else { break }
            filled += count
        }
        return (filled == bytes.count ? bytes : Array(bytes.prefix(filled)), status)
    }
}
