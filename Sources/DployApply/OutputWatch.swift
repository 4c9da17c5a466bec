import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// inotify over the output folders: which entries changed since it was last asked.
///
/// Read without blocking, by whoever observes, at the start of an observation: the kernel
/// queues an event when the write, rename or unlink returns, so an edit made before a run
/// began is in the queue when the run drains it. Nothing waits on the descriptor, so no
/// thread (of Swift's pool or of its own) is held by it.
///
/// One watch per folder (inotify does not recurse). Not Sendable in spirit: the
/// `ObservationCache` that owns it is owned by one reconcile loop.
final class OutputWatch {
    /// What the queue said since the last drain.
    enum Changes {
        /// Entries (folder watched, name in it) created, written, renamed, removed or chmodded;
        /// an empty name when the watched folder itself moved or went (its watch then ends).
        case entries([(watch: Int32, name: String)])
        /// The kernel's queue overflowed: what changed is unknown.
        case unknown
    }

    private let descriptor: Int32
    /// For tests: every `add` fails with this errno, as the kernel would refuse it.
    private let refusal: Int32?

    /// nil when the process may open no more inotify instances (`fs.inotify.max_user_instances`).
    init?(refusing refusal: Int32? = nil) {
        self.refusal = refusal
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    /// Watches `folder`'s entries; the watch descriptor, or the reason there is none
    /// (`fs.inotify.max_user_watches` reached, the folder gone).
    func add(_ folder: String) -> Result<Int32, WatchError> {
        // Not IN_ACCESS or IN_OPEN: readers (the boot server) must not fill the queue.
        let mask = UInt32(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO
            | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)
        if let refusal { return .failure(WatchError(folder: folder, code: refusal)) }
        let watch = inotify_add_watch(descriptor, folder, mask)
        guard watch >= 0 else { return .failure(WatchError(folder: folder, code: errno)) }
        return .success(watch)
    }

    /// Ends a watch (a folder that left the tree); nothing when it already ended.
    func remove(_ watch: Int32) {
        inotify_rm_watch(descriptor, watch)
    }

    /// Everything queued since the last call, without waiting.
    func drain() -> Changes {
        var entries: [(watch: Int32, name: String)] = []
        var unknown = false
        // Large enough for many events per read; an event is 16 bytes and its name.
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var offset = 0
            buffer.withUnsafeBytes { bytes in
                while offset + MemoryLayout<inotify_event>.size <= count {
                    let event = bytes.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let nameStart = offset + MemoryLayout<inotify_event>.size
                    let nameBytes = bytes[nameStart..<min(nameStart + Int(event.len), count)]
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        unknown = true
                    } else if event.mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                        entries.append((event.wd, ""))
                    } else if !name.isEmpty {
                        entries.append((event.wd, name))
                    }
                    offset = nameStart + Int(event.len)
                }
            }
        }
        return unknown ? .unknown : .entries(entries)
    }

    struct WatchError: Error, CustomStringConvertible {
        var folder: String
        var code: Int32

        /// No folder there (gone, or something else now): nothing to watch, and the parent's
        /// watch reports the change.
        var isGone: Bool { code == ENOENT || code == ENOTDIR }

        var description: String {
            let reason = "cannot watch \(folder) with inotify: \(String(cString: strerror(code)))"
            guard code == ENOSPC else { return reason }
            // ENOSPC from inotify_add_watch is the per-user limit on watches, not a full disk.
            let limit = (try? String(contentsOfFile: Self.watchLimitPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
            return "\(reason) (fs.inotify.max_user_watches is \(limit), \(Self.watchLimitPath); "
                + "raise it with sysctl, it must cover a watch per output folder)"
        }

        static let watchLimitPath = "/proc/sys/fs/inotify/max_user_watches"
    }
}
