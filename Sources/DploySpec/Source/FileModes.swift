import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The modes dploy gives what it creates, whatever the process umask. `open` and `mkdir`
/// only ever take bits away from the mode they are given, so without a `chmod` an operator's
/// umask decides: 000 left boot folders world-writable (anyone on the controller could plant
/// a boot script), 077 left boot files the TFTP server could not read, and 022 left the store
/// readable by every local user. Here, in the module every other imports (beside the other
/// file-system helpers), because the renderer's output, the store and the state files all use it.
public enum FileModes {
    /// Rendered boot files, installer answers and DHCP configuration: served or read by
    /// other daemons (TFTP, DHCP), and nothing in them is secret from the boot network.
    public static let published: mode_t = 0o644
    public static let publishedFolder: mode_t = 0o755
    /// The store and the controller's state files: the dploy user, and the group its
    /// operators are in (the package's state folder is 0750 dploy:dploy). Never other users.
    public static let state: mode_t = 0o640
    public static let stateFolder: mode_t = 0o750

    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot create \(path): \(reason)" }
    }

    /// Creates the folder `path` and every missing parent with exactly `mode`. Folders that
    /// already exist keep their modes: those are the operator's.
    /// Returns the folders it made, outermost first: a caller that wants them durable fsyncs
    /// the folder above each.
    @discardableResult
    public static func createFolders(_ path: String, mode: mode_t) throws(Failure) -> [String] {
        var missing: [String] = []
        var folder = path
        while !folder.isEmpty, folder != "/", !FileManager.default.fileExists(atPath: folder) {
            missing.append(folder)
            folder = (folder as NSString).deletingLastPathComponent
        }
        var made: [String] = []
        for folder in missing.reversed() {
            // EEXIST: another writer made it between the look and here; its mode is its own.
            if mkdir(folder, mode) != 0 {
                guard errno == EEXIST else { throw Failure(path: folder, reason: String(cString: strerror(errno))) }
                continue
            }
            made.append(folder)
            guard chmod(folder, mode) == 0 else { throw Failure(path: folder, reason: String(cString: strerror(errno))) }
        }
        return made
    }

    /// Creates the file `path` empty with exactly `mode` if it does not exist, so that a
    /// library that creates it later (SQLite) finds it with the right mode.
    public static func createFile(_ path: String, mode: mode_t) throws(Failure) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            if errno == EEXIST { return }
            throw Failure(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, mode) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
    }
}
