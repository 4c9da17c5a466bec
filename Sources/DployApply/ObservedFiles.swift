import DployPlan
import DployRender
import Foundation

/// Reads the files dploy manages, as they are on disk now: the observed half of a plan.
public enum ObservedFiles {
    /// - Parameter dhcpFileNames: the DHCP files of the configured backend; the rest of the
    ///   DHCP folder belongs to the operator and is never read.
    public static func read(_ folders: OutputFolders, dhcpFileNames: [String]) throws -> [OutputPath: [UInt8]] {
        var files: [OutputPath: [UInt8]] = [:]
        for (root, folder) in ObservedState.managedFolders {
            let base = folders.folder(root) + "/" + folder
            guard let enumerator = FileManager.default.enumerator(atPath: base) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let path = base + "/" + relative
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                      !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
                files[OutputPath(root, folder + "/" + relative)] = try contents(of: path)
            }
        }
        for single in [BootPaths.ipxeEntry] + dhcpFileNames.map({ OutputPath(.dhcp, $0) }) {
            let path = folders.diskPath(single)
            if FileManager.default.fileExists(atPath: path) { files[single] = try contents(of: path) }
        }
        return files
    }

    private static func contents(of path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ApplyError.unreadable(path) }
        return Array(data)
    }
}
