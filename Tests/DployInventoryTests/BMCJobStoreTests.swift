import DployTestSupport
import GRDB
@testable import DployInventory
import DploySpec
import Foundation
import Testing

/// The job table's contract, as the `Store` protocol states it, on a real SQLite file.
@Suite("BMC jobs in the SQLite store", .ownThread)
struct BMCJobStoreTests {
    let folder: URL
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    var path: String { folder.appendingPathComponent("dploy.db").path }

    func job(_ machine: String, _ step: String) -> BMCJob { StoreContract.job(machine, step) }

    @Test("a v4 store migrates to bmc jobs, keeping its machines; a step is queued once while it is queued or running")
    func migratesAndEnqueuesOnce() throws {
        let v4 = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(v4, upTo: "v4: hardware changes, firmware readings")
        try v4.write { db in
            try db.execute(sql: "INSERT INTO machine (mac, firstSeen, lastSeen, state) VALUES ('52:54:00:00:00:01', ?, ?, 'known')",
                           arguments: [t0, t0])
        }
        try v4.close()
        let store = try SQLiteStore(path: path)
        #expect(try store.machines().count == 1)

        let first = try #require(try store.enqueueBMCJob(job("web-01", "firmware iLO 5 3.08")))
        #expect(first.state == .queued && first.id > 0)
        #expect(try store.enqueueBMCJob(job("web-01", "firmware iLO 5 3.08")) == nil, "already queued")
        let other = try #require(try store.enqueueBMCJob(job("web-02", "firmware iLO 5 3.08")))
        #expect(other.id > first.id)

        // Claimed: still active, so still not queued twice; once over, the step can be queued again.
        #expect(try store.claimBMCJob(site: "default", at: t0 + 1)?.id == first.id)
        #expect(try store.enqueueBMCJob(job("web-01", "firmware iLO 5 3.08")) == nil, "running")
        #expect(try store.finishBMCJob(first.id, .succeeded, error: nil, at: t0 + 2))
        #expect(try store.finishBMCJob(first.id, .failed, error: "late", at: t0 + 3) == false, "ends once")
        #expect(try store.enqueueBMCJob(job("web-01", "firmware iLO 5 3.08")) != nil)

        // The unique index holds even when the check is bypassed: the database refuses a second active row.
        #expect(throws: (any Error).self) {
            try store.pool.write { db in
                try db.execute(sql: "INSERT INTO bmcJob (machine, kind, step, payload, state, createdAt) VALUES ('web-02', 'firmware', 'firmware iLO 5 3.08', '{}', 'queued', ?)",
                               arguments: [t0])
            }
        }
    }
}
