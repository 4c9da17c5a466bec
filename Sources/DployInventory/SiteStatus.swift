import Foundation

/// The last run of a site's leader, as the store keeps it for every controller to show.
public struct SiteRun: Hashable, Sendable {
    public var site: String
    /// Who ran it ("pid 812 on boot-1").
    public var holder: String
    /// What started it (`timer`, `webhook`, `startup`).
    public var trigger: String
    /// `converged`, `unchanged`, `planned` or `failed` (the daemon's run result).
    public var result: String
    /// The commit (or folder) it planned from.
    public var source: String?
    /// One line: what was applied, or why nothing was.
    public var message: String
    public var startedAt: Date
    public var finishedAt: Date

    public init(site: String, holder: String, trigger: String, result: String, source: String?, message: String,
                startedAt: Date, finishedAt: Date) {
        self.site = site
        self.holder = holder
        self.trigger = trigger
        self.result = result
        self.source = source
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// One site as a shared store knows it: who leads it, and its leader's last run.
public struct SiteStatus: Hashable, Sendable {
    public struct Leader: Hashable, Sendable {
        /// "pid 812 on boot-1".
        public var holder: String
        public var term: Int64
        public var since: Date
        /// When the lead ends unless it is renewed; past it, the site has no leader.
        public var expiresAt: Date

        public init(holder: String, term: Int64, since: Date, expiresAt: Date) {
            self.holder = holder
            self.term = term
            self.since = since
            self.expiresAt = expiresAt
        }
    }

    public var site: String
    /// The lease's holder, on a shared store; nil on SQLite (its lock file is one host's).
    public var leader: Leader?
    /// When the store read the leader row, by the database's clock: compare `expiresAt` with
    /// this, not with this host's clock.
    public var readAt: Date?
    public var lastRun: SiteRun?

    public init(site: String, leader: Leader? = nil, readAt: Date? = nil, lastRun: SiteRun? = nil) {
        self.site = site
        self.leader = leader
        self.readAt = readAt
        self.lastRun = lastRun
    }

    /// Whether someone leads the site now: a lease that has not run out.
    public var isLed: Bool {
        guard let leader, let readAt else { return false }
        return leader.expiresAt > readAt
    }
}
