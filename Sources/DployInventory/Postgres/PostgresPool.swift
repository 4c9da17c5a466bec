import Foundation

/// A few connections, each lent to one caller at a time. Callers block their own thread
/// while they wait, as they do on SQLite's pool; at most `limit` statements run at once.
final class PostgresPool: @unchecked Sendable {
    let settings: PostgresSettings
    let limit: Int
    /// After the database failed to answer, how long callers get an error at once rather
    /// than each waiting on it: boot requests answer (local disk) instead of queueing.
    let failFast: Duration
    // Guarded by `condition`.
    private var idle: [PostgresConnection] = []
    private var lent = 0
    private var unreachable: (until: ContinuousClock.Instant, reason: String)?
    private let condition = NSCondition()

    init(_ settings: PostgresSettings, limit: Int = 4, failFast: Duration = .seconds(2)) {
        self.settings = settings
        self.limit = limit
        self.failFast = failFast
    }

    /// Runs `body` on a connection of the pool. A connection the server or the network
    /// broke is reconnected before it is lent again; one that cannot be is dropped.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try borrow()
        defer { giveBack(connection) }
        do {
            return try body(connection)
        } catch {
            if connection.isBroken { markUnreachable("\(error)") }
            throw error
        }
    }

    /// Runs `body` in a transaction on a connection of the pool.
    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { try $0.transaction(body) }
    }

    private func markUnreachable(_ reason: String) {
        condition.lock()
        unreachable = (ContinuousClock.now + failFast, reason)
        condition.unlock()
    }

    private func borrow() throws(StoreError) -> PostgresConnection {
        condition.lock()
        while true {
            // Checked again after every wait: callers queued behind one that found the
            // database gone get the error too, instead of each trying it in turn.
            if let unreachable, ContinuousClock.now < unreachable.until {
                condition.unlock()
                throw StoreError.unusable(settings.redactedURL, "the database did not answer a moment ago (\(unreachable.reason)); "
                                          + "trying again shortly")
            }
            if !idle.isEmpty || lent < limit { break }
            condition.wait()
        }
        let reused = idle.popLast()
        lent += 1
        condition.unlock()
        do {
            if let reused {
                try reused.resetIfBroken()
                return reused
            }
            return try PostgresConnection(settings)
        } catch {
            condition.lock()
            lent -= 1
            unreachable = (ContinuousClock.now + failFast, error.description)
            condition.broadcast()
            condition.unlock()
            throw error
        }
    }

    private func giveBack(_ connection: PostgresConnection) {
        condition.lock()
        lent -= 1
        if connection.isIdle { idle.append(connection) }
        condition.broadcast()
        condition.unlock()
    }
}
