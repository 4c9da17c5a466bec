@testable import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// A database that hangs or goes away, on a server of the test's own.
@Suite("The PostgreSQL store when the database hangs or goes away", .ownThread, .requires(.postgres, .initdb, .psql))
struct PostgresOutageTests {
    let web01 = MACAddress("94:18:82:3a:5c:10")!

    func seconds(_ body: () throws -> Void) -> Double {
        let start = ContinuousClock.now
        try? body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    @Test("a frozen database is an error within the statement timeout and 2 s, not a hang; then at once for 2 s; then it works again")
    func frozen() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        var settings = PostgresSettings(url: try server.newDatabase().url, password: server.password)
        settings.statementTimeoutMilliseconds = 1000
        let store = try PostgresStore(settings)
        try store.recordSeen(web01, address: nil, at: Date())
        server.freeze()
        var failure = ""
        let first = seconds { do { _ = try store.machines() } catch { failure = "\(error)"; throw error } }
        #expect(first >= 2.9 && first < 10, "waited \(first) s")
        #expect(failure.contains("did not answer within 3 s"), "\(failure)")
        let next = seconds { _ = try store.machines() }
        #expect(next < 0.5, "fails at once while the database is known not to answer (\(next) s)")
        #expect(throws: StoreError.self) { try store.machines() }
        server.thaw()
        #expect(eventuallyBlocking(10) { (try? store.machines())?.count == 1 })
    }

    @Test("the database stopped and started again: errors at once meanwhile, the lead dropped and taken back, nothing reopened")
    func downAndBack() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let settings = PostgresSettings(url: try server.newDatabase().url, password: server.password)
        let store = try PostgresStore(settings)
        let lease = PostgresLeaderLease(store: store, site: "default", leaseSeconds: 3)
        #expect(try lease.tryAcquire() && lease.currentTerm == 1)
        server.stop()
        let down = seconds { _ = try store.machines() }
        #expect(down < 1, "a database that is down is an error at once (\(down) s)")
        #expect(eventuallyBlocking(5) { !lease.isHeld }, "the leader stops leading within a renewal")
        try server.start()
        #expect(eventuallyBlocking(10) { (try? store.machines()) != nil }, "the same store object works again")
        #expect(throws: StoreError.notLeader("this dploy does not lead its site"), "no task run starts before the lead is back") {
            try store.startTaskRun(TaskRun(key: TaskRunKey(task: "t", revision: "r", machine: "m"), mac: web01, action: .ssh,
                                           state: .running, startedAt: Date()))
        }
        #expect(eventuallyBlocking(10) { (try? lease.tryAcquire()) == true })
        #expect(lease.currentTerm == 2)
    }
}
