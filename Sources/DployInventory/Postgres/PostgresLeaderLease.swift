import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The lead of one site of a shared store: a row of the `leader` table, held for `lease`
/// seconds at a time and renewed every third of that on a thread of its own, by the
/// database's clock (controllers' clocks may disagree).
///
/// - **Takeover**: a standby takes the lead when the lease has run out, or once the leader
///   has missed a renewal while its connection is gone from `pg_stat_activity` (its process
///   died: `kill -9`, a crash). A leader that is alive notices a lost connection at that
///   renewal and stops leading before anyone else may start.
/// - **Fencing**: every takeover adds one to the site's `term`. Writes only a leader may
///   make (a task run's start, pruning) check, in their transaction, that the term is still
///   theirs and unexpired (`PostgresStore.fence`); they lock the row while they do, so a
///   takeover waits for them. A leader that was frozen (SIGSTOP, a VM paused) past its
///   lease wakes up with a stale term and writes nothing.
/// - **Losing the database**: renewal fails, the lead is dropped at once (`isHeld` turns
///   false), and the next run is a standby's until renewal works again.
///
/// Connect directly or through a session-pooling proxy: `pg_stat_activity` must show the
/// lease's own connection.
public final class PostgresLeaderLease: Leadership, @unchecked Sendable {
    public let site: String
    /// Seconds a lead lasts without renewal: how long a frozen or cut-off leader blocks a takeover.
    public let leaseSeconds: Int
    public var scope: String { "site '\(site)' in \(store.location)" }
    let store: PostgresStore
    private let me: String
    // Guarded by `mutex`, which a claim holds while the database answers.
    private var connection: PostgresConnection?
    private var renewal: Thread?
    private var stopped = false
    private let mutex = NSLock()
    /// The term led and when it was last claimed or renewed (monotonic clock). Apart from
    /// `mutex`, so asking whether this process leads never waits on a database that hangs.
    private let held = Mutex<(term: Int64, renewed: ContinuousClock.Instant)?>(nil)
    /// Called when a held lead is lost (`whenLost`).
    private let lostActions = Mutex<[@Sendable () -> Void]>([])

    public func whenLost(_ action: @escaping @Sendable () -> Void) { lostActions.withLock { $0.append(action) } }

    /// The term, while the last successful claim is less than a lease old. Past that, this
    /// process may have been replaced without hearing of it, and acts as a standby.
    private var term: Int64? {
        held.withLock { lead in
            guard let lead, ContinuousClock.now - lead.renewed < .seconds(leaseSeconds) else { return nil }
            return lead.term
        }
    }

    public init(store: PostgresStore, site: String, leaseSeconds: Int = 15) {
        self.store = store
        self.site = site
        self.leaseSeconds = max(3, leaseSeconds)
        me = leaderName
    }

    deinit { release() }

    public var isHeld: Bool { term != nil }

    /// The term this process leads under, or nil.
    public var currentTerm: Int64? { term }

    public func tryAcquire(now: Date) throws -> Bool {
        try mutex.withLock {
            stopped = false
            do {
                let connection = try self.connection ?? PostgresConnection(store.settings)
                self.connection = connection
                try connection.resetIfBroken()
                // A leader mid-write holds the row: wait a moment, not a statement timeout.
                try connection.execute("SET lock_timeout = 1000")
                try claim(on: connection)
            } catch StoreError.postgres("55P03", _) {
                // The row is locked by a fenced write, which only the leader makes: when that
                // is this process, its lead stands until its lease says otherwise; when not,
                // another leads.
                if term == nil { lose() }
                return term != nil
            } catch {
                lose()
                throw error
            }
            if term != nil && renewal == nil { startRenewal() }
            return term != nil
        }
    }

    /// Takes or renews the lead in one statement; sets `term` to what this process now leads
    /// under, or nil. Called with `mutex` held.
    private func claim(on connection: PostgresConnection) throws {
        // The lead counts from before the claim was sent: a claim that waited on the
        // database must not make this process believe in a lead the database has already ended.
        let sent = ContinuousClock.now
        let now = "(clock_timestamp() AT TIME ZONE 'UTC')::timestamp(3)"
        let row = try connection.execute("""
            INSERT INTO leader AS l (site, term, holder, backend_pid, since, renewed_at, expires_at)
            VALUES ($1, 1, $2, pg_backend_pid(), \(now), \(now), \(now) + make_interval(secs => $3))
            ON CONFLICT (site) DO UPDATE SET
                term = CASE WHEN l.term = $4 AND l.backend_pid = pg_backend_pid() THEN l.term ELSE l.term + 1 END,
                since = CASE WHEN l.term = $4 AND l.backend_pid = pg_backend_pid() THEN l.since ELSE EXCLUDED.since END,
                holder = EXCLUDED.holder, backend_pid = EXCLUDED.backend_pid,
                renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at
            WHERE (l.term = $4 AND l.backend_pid = pg_backend_pid())
               OR l.expires_at < \(now)
               OR (l.renewed_at < \(now) - make_interval(secs => $3 / 3.0 + 1)
                   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = l.backend_pid))
            RETURNING term
            """, [site, me, leaseSeconds, held.withLock { $0?.term } ?? -1]).first
        let claimed = row?["term"].flatMap { Int64($0) }
        if let claimed {
            held.withLock { $0 = (claimed, sent) }
            store.fence.withLock { $0 = .leads(site: site, term: claimed) }
        } else {
            lose()
        }
    }

    /// Forgets the lead: this process writes nothing only a leader may from now on.
    private func lose() {
        let wasHeld = held.withLock { lead in
            defer { lead = nil }
            return lead != nil
        }
        store.fence.withLock { $0 = .follows }
        if wasHeld && !stopped { lostActions.withLock { $0 }.forEach { $0() } }
    }

    /// Renews every third of the lease until released or lost. A renewal that fails drops
    /// the lead at once: better no leader for a moment than two.
    private func startRenewal() {
        let interval = Double(leaseSeconds) / 3
        let thread = Thread { [weak self] in
            Thread.nameCurrent("dploy-lease")
            while true {
                Thread.sleep(forTimeInterval: interval)
                guard let self else { return }
                let keepGoing = self.mutex.withLock { () -> Bool in
                    guard !self.stopped, self.term != nil, let connection = self.connection else {
                        // Its last renewal is a lease old (the process was frozen): the lead is
                        // gone, and whoever waits on it hears so now.
                        if !self.stopped { self.lose() }
                        self.renewal = nil
                        return false
                    }
                    do {
                        try self.claim(on: connection)
                    } catch StoreError.postgres("55P03", _) {
                        // This process's own fenced write holds the row: the lead stands until
                        // the last renewal is a lease old.
                    } catch {
                        self.lose()
                    }
                    if self.term == nil { self.renewal = nil }
                    return self.term != nil
                }
                if !keepGoing { return }
            }
        }
        renewal = thread
        thread.start()
    }

    public var holder: String {
        let row = try? store.pool.withConnection { connection in
            try connection.execute("SELECT holder, term, since FROM leader WHERE site = $1", [site]).first
        }
        guard let row, let holder = row["holder"] else { return "no controller yet" }
        return "\(holder) since \(row["since"] ?? "?") UTC, term \(row["term"] ?? "?")"
    }

    /// Ends the lease now, so a standby takes over at its next look, and closes the connection.
    public func release() {
        mutex.withLock {
            stopped = true
            if let term, let connection {
                _ = try? connection.execute("""
                    UPDATE leader SET expires_at = (clock_timestamp() AT TIME ZONE 'UTC')::timestamp(3) - interval '1 second'
                    WHERE site = $1 AND term = $2
                    """, [site, term])
            }
            lose()
            connection = nil
        }
    }
}

/// Whether a store's writes that only a leader may make are allowed (`PostgresStore.fence`).
enum LeaderFence: Sendable, Equatable {
    /// No lease in this process (tests, read-only commands): nothing to check.
    case unfenced
    /// Leads `site` under `term`: each such write checks the term is still current.
    case leads(site: String, term: Int64)
    /// Took part in the election and does not lead: such writes are refused.
    case follows
}
