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
    /// What identifies a version of a file or folder without reading it: inode, size, and
    /// modification and change times to the nanosecond (the change time moves on any
    /// write, rename or chmod). In 32 bytes, since the daemon keeps one per file of the fleet.
    struct Stamp: Equatable {
        var inode: UInt64, size: Int64, modified: Int64, changed: Int64

        init(_ status: stat) {
            inode = UInt64(status.st_ino)
            size = Int64(status.st_size)
            modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
            changed = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
        }
    }

    /// A folder entry: only its name is kept (paths are joined while walking), since a
    /// fleet's output is tens of thousands of entries a daemon holds for its whole life.
    /// A file's last observation lives in its entry too, rather than in a table by full
    /// path: thirty thousand paths of some eighty bytes, and the table over them, were a
    /// fifth of a 10,000-machine daemon's heap.
    struct Child {
        var name: String
        var isFolder: Bool
        var seen: Seen?
    }

    /// A file as last read, with the stat data it was read under.
    struct Seen {
        var stamp: Stamp
        var file: ObservedFile
    }

    private var folders: [String: (stamp: Stamp, children: [Child])] = [:]
    /// Files read outside a walk (the iPXE entry script, the DHCP files), by path: a handful.
    private var singles: [String: Seen] = [:]

    public init() {}

    /// Calls `visit` for every regular file below `diskPath`, skipping hidden names (staged temporaries).
    func walk(_ diskPath: String, as path: OutputPath, _ visit: (OutputPath, ObservedFile) -> Void) throws {
        var status = stat()
        guard lstat(diskPath, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { return }
        let stamp = Stamp(status)
        // Taken out of the table while walking, so that updating an entry does not copy the array.
        var children = folders[diskPath]?.children ?? []
        folders[diskPath]?.children = []
        if folders[diskPath]?.stamp != stamp {
            // Listed again; files seen before keep what was read of them (their stamps decide).
            let seen = Dictionary(children.compactMap { child in child.seen.map { (child.name, $0) } }) { first, _ in first }
            children = list(diskPath).map { Child(name: $0.name, isFolder: $0.isFolder, seen: seen[$0.name]) }
        }
        defer { folders[diskPath] = (stamp, children) }
        for index in children.indices {
            let name = children[index].name
            let childDiskPath = diskPath + "/" + name
            if children[index].isFolder {
                try walk(childDiskPath, as: OutputPath(path.root, path.path + "/" + name), visit)
            } else {
                children[index].seen = try Self.observe(childDiskPath, seen: children[index].seen)
                if let observed = children[index].seen?.file {
                    visit(OutputPath(path.root, path.path + "/" + name), observed)
                }
            }
        }
    }

    private func list(_ diskPath: String) -> [(name: String, isFolder: Bool)] {
        guard let directory = opendir(diskPath) else { return [] }
        defer { closedir(directory) }
        var children: [(name: String, isFolder: Bool)] = []
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
            children.append((name, isFolder))
        }
        return children
    }

    /// A regular file as observed, from the cache when its stamp is unchanged; nil when
    /// there is no regular file at `diskPath`. Only the digest and owner are kept.
    func file(_ diskPath: String) throws -> ObservedFile? {
        singles[diskPath] = try Self.observe(diskPath, seen: singles[diskPath])
        return singles[diskPath]?.file
    }

    /// The file at `diskPath` now: `seen` again when its stamp is unchanged, else read anew;
    /// nil when there is no regular file there.
    private static func observe(_ diskPath: String, seen: Seen?) throws -> Seen? {
        var status = stat()
        guard lstat(diskPath, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        if let seen, seen.stamp == Stamp(status) { return seen }
        guard let (contents, readStatus) = try read(diskPath) else { return nil }
        return Seen(stamp: Stamp(readStatus), file: ObservedFile(contents: contents))
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
