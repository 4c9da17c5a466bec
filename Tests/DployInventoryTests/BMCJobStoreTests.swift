import GRDB
@testable import DployInventory
import DploySpec
import Foundation
import Testing

/// The job table's contract, as the `Store` protocol states it, on a real SQLite file.
@Suite("BMC jobs in the SQLite store")
struct BMCJobStoreTests {
    let folder: URL
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    var path: String { folder.appendingPathComponent("dploy.db").path }

    func job(_ machine: String, _ step: String, kind: BMCJobKind = .firmware) -> BMCJob {
        BMCJob(machine: machine, mac: MACAddress("52:54:00:00:00:01"), kind: kind, step: step, payload: "{\"kind\":\"x\"}",
               createdAt: t0)
    }

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
        #expect(try store.claimBMCJob(at: t0 + 1)?.id == first.id)
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

    @Test("claims go oldest first, one running job per machine; a failure skips that machine's queued steps only")
    func claimsInOrderAndSkipsAfterFailure() throws {
        let store = try SQLiteStore(path: path)
        let a1 = try #require(try store.enqueueBMCJob(job("a", "firmware System ROM 2.90")))
        let a2 = try #require(try store.enqueueBMCJob(job("a", "firmware iLO 5 3.08")))
        let b1 = try #require(try store.enqueueBMCJob(job("b", "bios", kind: .bios)))

        #expect(try store.claimBMCJob(at: t0)?.id == a1.id)
        // a has a running job: its second step waits, b's goes next.
        #expect(try store.claimBMCJob(at: t0)?.id == b1.id)
        #expect(try store.claimBMCJob(at: t0) == nil)

        #expect(try store.updateBMCJob(a1.id, BMCJobUpdate(submittedAt: t0 + 1, tracking: "hpe /redfish/v1/UpdateService")))
        #expect(try store.updateBMCJob(a1.id, BMCJobUpdate(status: "Writing", percent: 40)))
        let running = try #require(try store.bmcJobs(states: [.running], machine: "a", limit: 10).first)
        #expect(running.tracking == "hpe /redfish/v1/UpdateService" && running.submittedAt == t0 + 1 && running.percent == 40)
        #expect(running.progressText == "in progress, 40 % (Writing)")

        #expect(try store.finishBMCJob(a1.id, .failed, error: "Error (iLO.2.8.UpdateFailedFlashError)", at: t0 + 5))
        #expect(try store.updateBMCJob(a1.id, BMCJobUpdate(percent: 90)) == false, "an ended job takes no progress")
        let skipped = try #require(try store.bmcJobs(states: nil, machine: "a", limit: 10).first { $0.id == a2.id })
        #expect(skipped.state == .skipped && skipped.error?.contains("job \(a1.id)") == true)
        #expect(try store.bmcJobs(states: [.running], machine: "b", limit: 10).map(\.id) == [b1.id], "b goes on")
        #expect(try store.claimBMCJob(at: t0 + 6) == nil)

        // The newest per machine and step: a retry of the failed step replaces it there.
        let retry = try #require(try store.enqueueBMCJob(job("a", "firmware System ROM 2.90")))
        let latest = Dictionary(try store.latestBMCJobs().map { ("\($0.machine) \($0.step)", $0) }) { _, last in last }
        #expect(latest["a firmware System ROM 2.90"]?.id == retry.id)
        #expect(latest["a firmware iLO 5 3.08"]?.state == .skipped)
        #expect(latest["b bios"]?.state == .running)

        // After a restart the rows are as they were: running stays running, to be resumed.
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.bmcJobs(states: [.running], machine: nil, limit: 10).map(\.id) == [b1.id])
    }

    @Test("two workers racing over many jobs claim each exactly once")
    func concurrentClaims() async throws {
        let store = try SQLiteStore(path: path)
        for index in 0..<200 { _ = try store.enqueueBMCJob(job("m\(index)", "bios", kind: .bios)) }
        let claimed = await withTaskGroup(of: [Int64].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var mine: [Int64] = []
                    while let job = try? store.claimBMCJob(at: t0) { mine.append(job.id) }
                    return mine
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.count == 200 && Set(claimed).count == 200)
    }
}
