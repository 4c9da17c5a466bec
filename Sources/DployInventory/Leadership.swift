import Foundation

/// Who may change the world for a store: apply BMC steps, start tasks, prune. One process
/// at a time leads; the others serve and wait. SQLite's is a lock file (`LeaderLock`), a
/// shared PostgreSQL store's a lease per site (`PostgresLeaderLease`).
public protocol Leadership: AnyObject, Sendable {
    /// Whether this process leads now: it takes the lead when it is free, and keeps it
    /// (renews it) when it holds it.
    func tryAcquire(now: Date) throws -> Bool
    /// Whether this process led at its last look, and has not lost the lead since.
    var isHeld: Bool { get }
    /// Who leads, for messages ("pid 812 on boot-1 since …").
    var holder: String { get }
    /// What is led, for messages: the lock file, or the site in the database.
    var scope: String { get }
    /// Gives the lead up, for a clean shutdown: a standby takes over without waiting.
    func release()
    /// Calls `action` whenever this process loses a lead it held, other than by `release`
    /// (a lease that could not be renewed). A lock file is never lost so.
    func whenLost(_ action: @escaping @Sendable () -> Void)
}

extension Leadership {
    public func tryAcquire() throws -> Bool { try tryAcquire(now: Date()) }
    public func whenLost(_ action: @escaping @Sendable () -> Void) {}
}

/// This process as leaders are named in lock files, lease rows and site runs: "pid 812 on boot-1".
public let leaderName = "pid \(ProcessInfo.processInfo.processIdentifier) on \(ProcessInfo.processInfo.hostName)"


/// Why an apply was refused: another process leads.
public struct NotLeader: Error, CustomStringConvertible {
    public let holder: String
    public let scope: String

    public init(holder: String, scope: String) {
        self.holder = holder
        self.scope = scope
    }

    public var description: String { "another dploy (\(holder)) leads \(scope); nothing was applied" }
}
