import Synchronization

/// The bytes of large request bodies being received at once, across all clients. A hardware
/// report may be 4 MiB and is read whole before anything can judge it, so without a budget
/// 500 connections from one host, each sending one slowly, held 2.3 GB. Past the budget a
/// report is answered 503 before its body is read, and the agent retries.
final class UploadBudget: Sendable {
    let limit: Int
    private let used = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// Takes `bytes` from the budget; false, taking nothing, when that would pass the limit.
    func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    func release(_ bytes: Int) { used.withLock { $0 -= bytes } }

    var inUse: Int { used.withLock { $0 } }
}
