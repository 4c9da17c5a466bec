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
    /// Once the window has passed, one caller tries the database; the rest still fail at
    /// once until it has an answer, so a database that hangs holds up one request, not all.
    private var probing = false
    private let condition = NSCondition()

    init(_ settings: PostgresSettings, limit: Int = 4, failFast: Duration = .seconds(5)) {
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
            let value = try body(connection)
            markReachable()
            return value
        } catch {
            if connection.isBroken { markUnreachable("\(error)") } else { markReachable() }
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
        probing = false
        condition.unlock()
    }

    /// The database answered (a result or an SQL error).
    private func markReachable() {
        condition.lock()
        if unreachable != nil || probing {
            unreachable = nil
            probing = false
        }
        condition.unlock()
    }

    private func borrow() throws(StoreError) -> PostgresConnection {
        condition.lock()
        while true {
            // Checked again after every wait: callers queued behind one that found the
            // database gone get the error too, instead of each trying it in turn.
            if let unreachable, ContinuousClock.now < unreachable.until || probing {
                condition.unlock()
                throw StoreError.unusable(settings.redactedURL, "the database did not answer a moment ago (\(unreachable.reason)); "
                                          + "trying again shortly")
            }
            if unreachable != nil { probing = true }
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
            probing = false
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
