import Foundation
import GRDB
import Synchronization

/// Read-only connections to the store's file, one for each caller reading at once, lent
/// from a free list under a `Mutex`: the boot path's (`SQLiteStore.bootRecord`).
///
/// Not a GRDB `DatabasePool`: its reader pool hands connections out through dispatch
/// queues (a barrier to take one, a concurrent queue's write to give it back), and the
/// threads answering boots slept there on each other, about 2,700 times in 8 s of a
/// 64-wide rollout (`perf`, sched_switch). Taking one from this list is a lock held for one
/// array operation. There are as many connections as callers ever read at once (the
/// threads that answer boots), each opened at its first need.
final class SQLiteReaders: Sendable {
    private let path: String
    private let configuration: Configuration
    private let idle = Mutex<[DatabaseQueue]>([])

    init(path: String, configuration: Configuration) {
        var configuration = configuration
        configuration.readonly = true
        self.path = path
        self.configuration = configuration
    }

    /// Runs `body` in a read transaction on a connection no other caller uses meanwhile.
    /// Unlike a pool's readers, these do not look for a schema changed by another process:
    /// only a daemon migrates its store, before it opens them.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? DatabaseQueue(path: path, configuration: configuration)
        defer { idle.withLock { $0.append(connection) } }
        return try connection.read(body)
    }

    /// Closes the idle connections. Before the store's writer closes: an open reader keeps
    /// the writer from the last checkpoint, which leaves the -wal and -shm files behind.
    func close() {
        idle.withLock { $0.removeAll() }
    }
}
