import Foundation

/// A few connections, each lent to one caller at a time. Callers block their own thread
/// while they wait, as they do on SQLite's pool; at most `limit` statements run at once.
final class PostgresPool: @unchecked Sendable {
    let settings: PostgresSettings
    let limit: Int
    // Guarded by `condition`.
    private var idle: [PostgresConnection] = []
    private var lent = 0
    private let condition = NSCondition()

    init(_ settings: PostgresSettings, limit: Int = 4) {
        self.settings = settings
        self.limit = limit
    }

    /// Runs `body` on a connection of the pool. A connection the server or the network
    /// broke is reconnected before it is lent again; one that cannot be is dropped.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try borrow()
        defer { giveBack(connection) }
        return try body(connection)
    }

    /// Runs `body` in a transaction on a connection of the pool.
    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection { try $0.transaction(body) }
    }

    private func borrow() throws(StoreError) -> PostgresConnection {
        condition.lock()
        while idle.isEmpty && lent >= limit { condition.wait() }
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
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func giveBack(_ connection: PostgresConnection) {
        condition.lock()
        lent -= 1
        if !connection.isBroken { idle.append(connection) }
        condition.signal()
        condition.unlock()
    }
}
