import DployInventory
import DploySpec
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who may change the world for one store: the process holding an exclusive `flock` on
/// `STATE/dploy.lock`. The kernel drops the lock when its holder exits, however it exits,
/// so a standby daemon takes over on its next run without any stale-lock cleanup.
///
/// The file's text names the holder (pid, host, since when) so a refusal can say who it is.
public final class LeaderLock: Leadership, @unchecked Sendable {
    public let path: String
    public var scope: String { path }
    // Guarded by `mutex`: a lock is tried from the loop and read by status pages.
    private var descriptor: Int32 = -1
    private let mutex = NSLock()

    public init(path: String) { self.path = path }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Whether this process holds the lock, taking it when it is free.
    public func tryAcquire(now: Date = Date()) throws -> Bool {
        mutex.lock()
        defer { mutex.unlock() }
        if descriptor >= 0 { return true }
        _ = try? FileModes.createFolders((path as NSString).deletingLastPathComponent, mode: FileModes.stateFolder)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LeaderLockError.cannotOpen(path, String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return false
        }
        // The same text as ISO8601DateFormatter's, without it: that formatter runs on ICU and
        // pulls megabytes of ICU's code and data into a daemon that takes the lock every run.
        let holder = "\(leaderName) since \(now.formatted(.iso8601))\n"
        _ = ftruncate(fd, 0)
        _ = holder.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
        return true
    }

    public var isHeld: Bool {
        mutex.lock()
        defer { mutex.unlock() }
        return descriptor >= 0
    }

    /// Who holds the lock, as its holder wrote it ("pid 812 on boot-1 since …").
    public var holder: String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.flatMap { $0.isEmpty ? nil : $0 } ?? "another process"
    }

    /// Gives the lock up, for a clean shutdown; exiting does the same.
    public func release() {
        mutex.lock()
        defer { mutex.unlock() }
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }
}

public enum LeaderLockError: Error, CustomStringConvertible {
    case cannotOpen(String, String)
    case heldElsewhere(String, holder: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open the leader lock \(path): \(reason); it must be writable by the user dploy runs as "
                + "(a `sudo dploy apply` may have made it root's: chown it to that user)"
        case .heldElsewhere(let path, let holder):
            "another dploy (\(holder)) holds \(path) and converges this store; nothing was applied"
        }
    }
}
