import DployPlan
import DployRender
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the files dploy manages, as they are on disk now: the observed half of a plan.
///
/// Plain POSIX calls: a fleet of ten thousand machines means some thirty thousand small
/// files in ten thousand folders. With an `ObservationCache` (the daemon keeps one) a
/// folder whose stat data is unchanged is not listed again and a file whose device,
/// inode, size, mtime and ctime are unchanged is not read again, as git's index does for
/// a work tree: a quiet fleet costs one `stat` per file.
public enum ObservedFiles {
    /// - Parameter dhcpFileNames: the DHCP files of the configured backend; the rest of the
    ///   DHCP folder belongs to the operator and is never read.
    public static func read(_ folders: OutputFolders, dhcpFileNames: [String],
                            cache: ObservationCache? = nil) throws -> [OutputPath: ObservedFile] {
        let cache = cache ?? ObservationCache()
        var files: [OutputPath: ObservedFile] = [:]
        for (root, folder) in ObservedState.managedFolders {
            try cache.walk(folders.folder(root) + "/" + folder, as: OutputPath(root, folder)) { path, observed in
                files[path] = observed
            }
        }
        for single in [BootPaths.ipxeEntry] + dhcpFileNames.map({ OutputPath(.dhcp, $0) }) {
            if let observed = try cache.file(folders.diskPath(single)) { files[single] = observed }
        }
        return files
    }
}

/// Folder listings and file contents seen before, with the stat data they were seen under.
/// Not Sendable in spirit: one reconcile loop owns it.
public final class ObservationCache: @unchecked Sendable {
    /// What identifies a version of a file or folder without reading it.
    struct Stamp: Equatable {
        var device: UInt64, inode: UInt64, size: Int64
        var modifiedSeconds: Int, modifiedNanoseconds: Int, changedSeconds: Int, changedNanoseconds: Int

        init(_ status: stat) {
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
            size = Int64(status.st_size)
            modifiedSeconds = status.st_mtim.tv_sec
            modifiedNanoseconds = status.st_mtim.tv_nsec
            changedSeconds = status.st_ctim.tv_sec
            changedNanoseconds = status.st_ctim.tv_nsec
        }
    }

    /// A folder entry: only its name is kept (paths are joined while walking), since a
    /// fleet's output is tens of thousands of entries a daemon holds for its whole life.
    struct Child {
        var name: String
        var isFolder: Bool
    }

    private var folders: [String: (stamp: Stamp, children: [Child])] = [:]
    private var files: [String: (stamp: Stamp, file: ObservedFile)] = [:]

    public init() {}

    /// Calls `visit` for every regular file below `diskPath`, skipping hidden names (staged temporaries).
    func walk(_ diskPath: String, as path: OutputPath, _ visit: (OutputPath, ObservedFile) -> Void) throws {
        var status = stat()
        guard lstat(diskPath, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { return }
        let stamp = Stamp(status)
        let children: [Child]
        if let cached = folders[diskPath], cached.stamp == stamp {
            children = cached.children
        } else {
            children = list(diskPath)
            folders[diskPath] = (stamp, children)
        }
        for child in children {
            let childDiskPath = diskPath + "/" + child.name
            if child.isFolder {
                try walk(childDiskPath, as: OutputPath(path.root, path.path + "/" + child.name), visit)
            } else if let observed = try file(childDiskPath) {
                visit(OutputPath(path.root, path.path + "/" + child.name), observed)
            }
        }
    }

    private func list(_ diskPath: String) -> [Child] {
        guard let directory = opendir(diskPath) else { return [] }
        defer { closedir(directory) }
        var children: [Child] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") { continue }
            let childPath = diskPath + "/" + name
            var isFolder = Int32(entry.pointee.d_type) == Int32(DT_DIR)
            if Int32(entry.pointee.d_type) == Int32(DT_UNKNOWN) {
                // Some filesystems do not say in readdir what an entry is.
                var status = stat()
                isFolder = lstat(childPath, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
            }
            children.append(Child(name: name, isFolder: isFolder))
        }
        return children
    }

    /// A regular file as observed, from the cache when its stamp is unchanged; nil when
    /// there is no regular file at `diskPath`. Only the digest and head are kept.
    func file(_ diskPath: String) throws -> ObservedFile? {
        var status = stat()
        guard lstat(diskPath, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        if let cached = files[diskPath], cached.stamp == Stamp(status) { return cached.file }
        guard let (contents, readStatus) = try Self.read(diskPath) else { return nil }
        let file = ObservedFile(contents: contents)
        files[diskPath] = (Stamp(readStatus), file)
        return file
    }

    /// A regular file's bytes and the stat data they belong to.
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
