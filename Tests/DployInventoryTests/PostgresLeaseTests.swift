@testable import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("The leader lease of a shared store", .ownThread, .requires(.postgres, .initdb, .psql))
struct PostgresLeaseTests {
    let web01 = MACAddress("94:18:82:3a:5c:10")!

    /// Two controllers, each with its own store and lease, on one new database.
    func twoControllers(leaseSeconds: Int) throws -> (a: PostgresLeaderLease, b: PostgresLeaderLease, server: PostgresServer, database: String) {
        let server = try PostgresServer.shared()
        let database = try server.newDatabase()
        let settings = PostgresSettings(url: database.url, password: server.password)
        return (PostgresLeaderLease(store: try PostgresStore(settings), site: "default", leaseSeconds: leaseSeconds),
                PostgresLeaderLease(store: try PostgresStore(settings), site: "default", leaseSeconds: leaseSeconds),
                server, database.name)
    }

    func run(_ task: String) -> TaskRun {
        TaskRun(key: TaskRunKey(task: task, revision: "r1", machine: "web-01"), mac: web01, action: .ssh, state: .running,
                startedAt: Date())
    }

    @Test("one leads, the other waits and names it; a clean release hands over at once, under a new term")
    func handover() throws {
        let (a, b, _, _) = try twoControllers(leaseSeconds: 30)
        #expect(try a.tryAcquire() && a.currentTerm == 1)
        #expect(try !b.tryAcquire() && !b.isHeld)
        #expect(b.holder.contains("pid \(getpid())") && b.holder.hasSuffix("term 1"), "\(b.holder)")
        #expect(try a.tryAcquire() && a.currentTerm == 1, "renewing keeps the term")
        #expect(try a.store.startTaskRun(run("leader-writes")))
        #expect(throws: StoreError.self, "a standby may not start a task run") { try b.store.startTaskRun(run("standby-writes")) }
        a.release()
        #expect(try b.tryAcquire() && b.currentTerm == 2)
        #expect(try !a.tryAcquire())
        #expect(try a.store.taskRuns(task: nil).map(\.key.task) == ["leader-writes"])
    }

    @Test("two sites lead at once, each under its own term; a site's leader writes only its own site's jobs and runs; every controller sees both")
    func sitesLeadApart() throws {
        let server = try PostgresServer.shared()
        let database = try server.newDatabase()
        let settings = PostgresSettings(url: database.url, password: server.password)
        let here = PostgresLeaderLease(store: try PostgresStore(settings), site: "default", leaseSeconds: 30)
        let london = PostgresLeaderLease(store: try PostgresStore(settings), site: "lon", leaseSeconds: 30)
        let londonStandby = PostgresLeaderLease(store: try PostgresStore(settings), site: "lon", leaseSeconds: 30)
        #expect(try here.tryAcquire() && london.tryAcquire(), "one leader per site, not one per store")
        #expect(try !londonStandby.tryAcquire())
        #expect(here.currentTerm == 1 && london.currentTerm == 1)

        var londonJob = BMCJob(machine: "lon-web-01", mac: nil, site: "lon", kind: .bios, step: "bios", payload: "{}", createdAt: Date())
        #expect(throws: StoreError.self, "leading this site does not allow London's writes") {
            try here.store.enqueueBMCJob(londonJob)
        }
        let queued = try #require(try london.store.enqueueBMCJob(londonJob))
        #expect(try here.store.claimBMCJob(site: "default", at: Date()) == nil)
        #expect(throws: StoreError.self) { try here.store.claimBMCJob(site: "lon", at: Date()) }
        #expect(try london.store.claimBMCJob(site: "lon", at: Date())?.id == queued.id)
        londonJob.machine = "lon-web-02"
        #expect(throws: StoreError.self, "a standby of the site may not enqueue either") { try londonStandby.store.enqueueBMCJob(londonJob) }

        let now = Date()
        let run = SiteRun(site: "lon", holder: leaderName, trigger: "timer", result: "converged", source: nil, message: "1 file written",
                          startedAt: now - 1, finishedAt: now)
        #expect(throws: StoreError.self) { try here.store.recordSiteRun(run) }
        try london.store.recordSiteRun(run)
        // Any controller of the store, leader or not, reads every site.
        let sites = try londonStandby.store.sites()
        #expect(sites.map(\.site) == ["default", "lon"])
        #expect(sites.allSatisfy { $0.isLed }, "\(sites)")
        #expect(sites.first?.lastRun == nil && sites.first?.leader?.term == 1)
        #expect(sites.last?.lastRun?.message == "1 file written" && sites.last?.leader?.holder == leaderName)
        london.release()
        #expect(try londonStandby.store.sites().last?.isLed == false, "a released lead shows as no leader")
        #expect(try londonStandby.tryAcquire() && londonStandby.currentTerm == 2)
        #expect(here.isHeld && here.currentTerm == 1, "London's handover leaves this site's lead alone")
    }

    @Test("a fenced write holding the leader row keeps the leader leading and the standby waiting")
    func fencedWriteHoldsTheRow() async throws {
        let (a, b, server, database) = try twoControllers(leaseSeconds: 30)
        #expect(try a.tryAcquire())
        // What a long prune does: hold the leader row FOR SHARE for a while.
        let holding = Task.detached {
            try server.psql("BEGIN; SELECT term FROM leader FOR SHARE; SELECT pg_sleep(3); COMMIT;", database: database)
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try a.tryAcquire() && a.currentTerm == 1, "the leader keeps its lead while the row is held")
        #expect(try !b.tryAcquire(), "the standby waits")
        _ = try await holding.value
        #expect(try a.tryAcquire() && a.currentTerm == 1)
    }

    @Test("a leader whose connection is gone is replaced after one missed renewal, not at the lease's end, and stopped leading first")
    func deadLeaderReplaced() throws {
        let (a, b, server, database) = try twoControllers(leaseSeconds: 6)
        #expect(try a.tryAcquire())
        #expect(try !b.tryAcquire())
        // What the server sees when a controller dies: its lease connection closes.
        try server.psql("SELECT pg_terminate_backend(backend_pid, 5000) FROM leader", database: database)
        let cut = ContinuousClock.now
        #expect(eventuallyBlocking(6) { (try? b.tryAcquire()) == true }, "taken over before the 6 s lease ran out")
        #expect(ContinuousClock.now - cut < .seconds(5.5))
        #expect(b.currentTerm == 2)
        #expect(!a.isHeld, "the old leader, alive, had noticed at its renewal and stopped leading")
    }

    @Test("a leader frozen past its lease wakes to a new term and writes nothing only a leader may")
    func frozenLeaderFenced() throws {
        let (a, b, server, database) = try twoControllers(leaseSeconds: 30)
        #expect(try a.tryAcquire() && a.currentTerm == 1)
        let job = try #require(try a.store.enqueueBMCJob(BMCJob(machine: "web-01", mac: web01, kind: .firmware, step: "firmware iLO 5 3.08",
                                                                payload: "{}", createdAt: Date())))
        #expect(try a.store.claimBMCJob(site: "default", at: Date())?.id == job.id)
        // A froze (SIGSTOP, a paused VM) and did not renew: its lease ran out.
        try server.psql("UPDATE leader SET expires_at = now() AT TIME ZONE 'UTC' - interval '1 second'", database: database)
        #expect(try b.tryAcquire() && b.currentTerm == 2)
        // A wakes up still believing it leads, and tries to start a task run.
        #expect(a.isHeld, "it has not looked yet")
        #expect { try a.store.startTaskRun(run("stale")) } throws: { "\($0)".contains("term 1") && "\($0)".contains("another dploy leads") }
        #expect { try a.store.prune(StoreRetention(), now: Date()) } throws: { $0 is StoreError }
        #expect(throws: StoreError.self, "nor take the right to post its claimed job's firmware update") {
            try a.store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: Date()))
        }
        #expect(try b.store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: Date())), "the new leader, resuming it, may")
        #expect(try b.store.taskRuns(task: nil).isEmpty, "nothing of the stale leader's landed")
        #expect(try !a.tryAcquire() && !a.isHeld)
        #expect(try b.store.startTaskRun(run("fresh")))
    }

    @Test("a leader that loses the database drops its lead within a renewal, and takes it back once the database answers")
    func connectionLost() throws {
        let (a, _, server, database) = try twoControllers(leaseSeconds: 3)
        #expect(try a.tryAcquire())
        try server.psql("SELECT pg_terminate_backend(backend_pid) FROM leader", database: database)
        #expect(eventuallyBlocking(5) { !a.isHeld }, "renewal (every second) found the connection gone")
        #expect(eventuallyBlocking(6) { (try? a.tryAcquire()) == true }, "reconnected; its old connection is gone, so it leads anew")
        #expect(a.currentTerm == 2)
    }
}
