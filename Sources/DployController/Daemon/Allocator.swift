import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The daemon's terms with glibc's allocator, which keeps freed memory for reuse rather
/// than give it back: right for a short command, wrong for a process that lives for months
/// and, now and then, builds and drops tens of megabytes (a fleet's plan, a page of every
/// machine). glibc's `mallopt` and `malloc_trim` are not in Swift's Glibc module, hence
/// the lookups; with another C library these do nothing.
public enum Allocator {
    /// Sets glibc up for a long-lived daemon whose runs allocate large, short-lived tables:
    /// two arenas instead of one per thread, and large blocks always from mmap (glibc
    /// otherwise raises that threshold after the first large free, and the next run's
    /// tables then fragment the heap). Call once, as early as possible.
    public static func tuneForDaemon() {
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let arenaMax: Int32 = -8, mmapThreshold: Int32 = -3
        _ = mallopt(arenaMax, 2)
        _ = mallopt(mmapThreshold, 128 * 1024)
    }

    /// Gives the pages of freed memory back to the system (`malloc_trim`): after a
    /// reconcile run, the memory of its load, observations and plan.
    public static func returnFreedMemory() {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }

    private static let trimScheduled = Mutex(false)

    /// `returnFreedMemory()` a second from now, once however often it is asked for in that
    /// second: after a request whose answer covers the whole fleet, so that the answer's
    /// buffers are written and freed first.
    public static func returnFreedMemorySoon() {
        let first = trimScheduled.withLock { scheduled in
            defer { scheduled = true }
            return !scheduled
        }
        guard first else { return }
        Task.detached {
            try? await Task.sleep(for: .seconds(1))
            trimScheduled.withLock { $0 = false }
            returnFreedMemory()
        }
    }
}
