import DployInventory
import Foundation

/// A site as `dploy status`, `/v1/sites` and the Source page show it: who leads it (on a
/// shared store) and its leader's last run.
public struct SiteView: Encodable, Sendable, Hashable {
    public struct Leader: Encodable, Sendable, Hashable {
        public var holder: String
        public var term: Int64
        public var since: Date
        /// When the lead ends unless renewed (the database's clock).
        public var expiresAt: Date
    }

    public struct Run: Encodable, Sendable, Hashable {
        public var holder: String
        public var trigger: String
        public var result: String
        public var source: String?
        public var message: String
        public var finishedAt: Date
    }

    public var site: String
    /// Whether a lease that has not run out names a leader; false for an embedded store.
    public var led: Bool
    /// The lease row, also once it has run out (who led last).
    public var leader: Leader?
    public var lastRun: Run?

    public init(_ status: SiteStatus) {
        site = status.site
        led = status.isLed
        leader = status.leader.map { Leader(holder: $0.holder, term: $0.term, since: $0.since, expiresAt: $0.expiresAt) }
        lastRun = status.lastRun.map {
            Run(holder: $0.holder, trigger: $0.trigger, result: $0.result, source: $0.source, message: $0.message, finishedAt: $0.finishedAt)
        }
    }

    /// "led by pid 812 on boot-1 (term 3)", "no leader (pid 812 on boot-1's lease ended …)".
    public var leaderText: String {
        guard let leader else { return "—" }
        if led { return "led by \(leader.holder) (term \(leader.term))" }
        return "no leader (the lease of \(leader.holder) ended \(Self.time(leader.expiresAt)))"
    }

    /// "2026-12-07T08:40:00Z (webhook) converged: 2 files written", or "no run yet".
    public var lastRunText: String {
        guard let run = lastRun else { return "no run yet" }
        return "\(Self.time(run.finishedAt)) (\(run.trigger)) \(run.result): \(run.message)"
    }

    /// Whether there is anything to show beyond what the daemon's own status says: a shared
    /// store's leases, or more than one site.
    public static func worthShowing(_ sites: [SiteView]) -> Bool { sites.count > 1 || sites.contains { $0.leader != nil } }

    static func time(_ date: Date) -> String { date.formatted(.iso8601) }
}
