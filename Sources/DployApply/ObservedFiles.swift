import DployPlan
import DployRender
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the files dploy manages, as they are on disk now: the observed half of a plan.
///
/// Plain POSIX calls (readdir, open, read): a fleet of ten thousand machines means some
/// thirty thousand small files, and FileManager's per-file overhead dominated that read.
public enum ObservedFiles {
    /// - Parameter dhcpFileNames: the DHCP files of the configured backend; the rest of the
    ///   DHCP folder belongs to the operator and is never read.
    public static func read(_ folders: OutputFolders, dhcpFileNames: [String]) throws -> [OutputPath: [UInt8]] {
        var files: [OutputPath: [UInt8]] = [:]
        for (root, folder) in ObservedState.managedFolders {
            try walk(folders.folder(root) + "/" + folder, relative: folder) { relative, contents in
                files[OutputPath(root, relative)] = contents
            }
        }
        for single in [BootPaths.ipxeEntry] + dhcpFileNames.map({ OutputPath(.dhcp, $0) }) {
            if let contents = try contents(of: folders.diskPath(single)) { files[single] = contents }
        }
        return files
    }

    /// Calls `visit` for every regular file below `path`, skipping hidden names (staged temporaries).
    private static func walk(_ path: String, relative: String, _ visit: (String, [UInt8]) -> Void) throws {
        guard let directory = opendir(path) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { buffer in
                String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let child = path + "/" + name
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): try walk(child, relative: relative + "/" + name, visit)
            case Int32(DT_REG), Int32(DT_UNKNOWN):
                if let contents = try contents(of: child) { visit(relative + "/" + name, contents) }
            default: continue
            }
        }
    }

    /// A regular file's bytes, or nil when there is no regular file there.
    private static func contents(of path: String) throws -> [UInt8]? {
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
        return filled == bytes.count ? bytes : Array(bytes.prefix(filled))
    }
}
