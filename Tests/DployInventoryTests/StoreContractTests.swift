@testable import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// A fresh, empty store of one kind, with what a test needs beyond the `Store` protocol:
/// the same store opened again (a new process), and raw SQL for what only a hand edit or a
/// newer dploy would leave behind.
struct StoreUnderTest {
    let store: any Store
    let reopen: () throws -> any Store
    /// Runs the SQLite statement or the PostgreSQL one (whose names are snake_case).
    let execute: (_ sqlite: String, _ postgres: String) throws -> Void

    static func sqlite() throws -> StoreUnderTest {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-store-\(UUID().uuidString)/state/dploy.db").path
        let store = try SQLiteStore(path: path)
        return StoreUnderTest(store: store, reopen: { try SQLiteStore(path: path) },
                              execute: { sql, _ in try store.pool.write { try $0.execute(sql: sql) } })
    }

    static func postgres() throws -> StoreUnderTest {
        let server = try PostgresServer.shared()
        let settings = PostgresSettings(url: try server.newDatabase().url, password: server.password)
        let store = try PostgresStore(settings)
        return StoreUnderTest(store: store, reopen: { try PostgresStore(settings) },
                              execute: { _, sql in try store.pool.withConnection { _ = try $0.execute(sql) } })
    }
}

/// What every store does, written once and run against each (`SQLiteStoreContractTests`,
/// `PostgresStoreContractTests`).
enum StoreContract {
    static let web01 = MACAddress("94:18:82:3a:5c:10")!
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    static func installLifecycle(_ subject: StoreUnderTest) throws {
        let store = subject.store
        #expect(try store.machines().isEmpty)
        try store.recordSeen(web01, address: "198.18.0.21", at: t0)
        try store.installStarted(web01, generation: 1, at: t0 + 10)
        #expect(try store.machine(web01)?.state == .installing)
        #expect(try store.installedGenerations().isEmpty)
        #expect(try store.installFinished(web01, generation: 1, at: t0 + 600))
        #expect(try !store.installFinished(web01, generation: 1, at: t0 + 700), "a callback counts once")
        #expect(try !store.installFinished(web01, generation: 0, at: t0 + 700), "an older generation never moves it back")
        // A new process: everything is still there.
        let reopened = try subject.reopen()
        let machine = try #require(try reopened.machine(web01))
        #expect(machine.state == .installed && machine.installedGeneration == 1 && machine.address == "198.18.0.21")
        #expect(machine.firstSeen == t0 && machine.lastSeen == t0 + 700)
        #expect(try reopened.installedGenerations() == [web01: 1])
        let attempts = try reopened.installAttempts(web01)
        #expect(attempts.count == 1 && attempts.first?.finishedAt == t0 + 600)
        #expect(try reopened.latestAttempts()[web01]?.generation == 1)
        #expect(try reopened.events(for: web01, limit: 10).map(\.kind) == ["install-finished", "install-started", "seen"])
        #expect(try reopened.events(for: web01, limit: 10).last?.message == "first seen at 198.18.0.21")
        #expect(try reopened.macs(in: .installed) == [web01] && reopened.macs(in: .discovered).isEmpty)
    }

    static func failedInstall(_ subject: StoreUnderTest) throws {
        let store = subject.store
        try store.installStarted(web01, generation: 2, at: t0)
        try store.installFailed(web01, generation: 2, reason: "no callback after 3 attempts", at: t0 + 3600)
        #expect(try store.machine(web01)?.state == .failed)
        #expect(try store.installedGenerations().isEmpty)
        #expect(try store.installAttempts(web01).first?.failure == "no callback after 3 attempts")
        #expect(try store.events(for: nil, limit: 1).first?.message == "generation 2: no callback after 3 attempts")
        #expect(try store.latestEvents()[web01]?.kind == "install-failed")
    }

    static func hardware(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let first = Hardware(vendor: "HPE", model: "ProLiant DL360 Gen10", serial: "CZ0000001", cpus: 2, memoryBytes: 64 << 30,
                             disks: [.init(name: "/dev/sda", sizeBytes: 480_000_000_000)],
                             nics: [.init(name: "eno1", mac: web01.description, linkUp: true)])
        try store.recordHardware(web01, first, at: t0)
        var second = first
        second.memoryBytes = 128 << 30
        try store.recordHardware(web01, second, at: t0 + 60)
        let machine = try #require(try store.machine(web01))
        #expect(machine.hardware == second && machine.state == .discovered)
        #expect(machine.hardwareChanges.count == 1 && machine.hardwareChanges.first?.contains("memory") == true)
        #expect(try store.events(for: web01, limit: 1).first?.kind == "hardware-changed")
        #expect(try store.machines().map(\.hardware) == [second])
    }

    static func taskRunsOnce(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let key = TaskRunKey(task: "rotate-motd", revision: "0123456789abcdef", machine: "web-01")
        let run = TaskRun(key: key, mac: web01, action: .ssh, state: .running, startedAt: t0)
        #expect(try store.startTaskRun(run))
        #expect(try !store.startTaskRun(run), "a second start of the same run records nothing")
        try store.updateTaskRunOutput(key, "half")
        #expect(try store.taskRuns(mac: web01).first?.output == "half")
        #expect(try store.finishTaskRun(key, TaskRunOutcome(state: .succeeded, exitCode: 0, output: "ok\n"), at: t0 + 2))
        #expect(try !store.finishTaskRun(key, .failed("late"), at: t0 + 3), "a finished run never changes")
        let stored = try #require(try store.taskRuns(task: "rotate-motd").first)
        #expect(stored.state == .succeeded && stored.exitCode == 0 && stored.output == "ok\n" && stored.finishedAt == t0 + 2)
        #expect(try store.taskRunStates() == [key: .succeeded])
        #expect(try store.events(for: web01, limit: 2).map(\.message) == ["task 'rotate-motd' succeeded, exit code 0",
                                                                          "task 'rotate-motd' (ssh) started"])
        // Another revision is another run.
        #expect(try store.startTaskRun(TaskRun(key: TaskRunKey(task: "rotate-motd", revision: "fedcba9876543210", machine: "web-01"),
                                               mac: web01, action: .ssh, state: .running, startedAt: t0 + 10)))
        #expect(try store.taskRuns(task: nil).count == 2)
    }

    static func interruptedAndOverdue(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let ssh = TaskRunKey(task: "t", revision: "r1", machine: "web-01")
        let image = TaskRunKey(task: "img", revision: "r2", machine: "web-01")
        _ = try store.startTaskRun(TaskRun(key: ssh, mac: web01, action: .ssh, state: .running, startedAt: t0))
        _ = try store.startTaskRun(TaskRun(key: image, mac: web01, action: .imageRestore, state: .running, startedAt: t0,
                                           deadline: t0 + 600))
        #expect(try store.runningTaskRuns(actions: [.ssh, .imageRestore], at: t0 + 1).map(\.key) == [ssh, image])
        #expect(try store.failInterruptedTaskRuns(actions: [.ssh, .power, .rediscover], machines: ["another-sites-machine"], at: t0 + 5).isEmpty,
                "another site's runs are left alone")
        #expect(try store.failInterruptedTaskRuns(actions: [.ssh, .power, .rediscover], machines: nil, at: t0 + 5).map(\.key) == [ssh])
        #expect(try store.taskRuns(task: "t").first?.error == "interrupted: dploy stopped while it ran; a task is not run twice")
        #expect(try store.failOverdueTaskRuns(at: t0 + 599).isEmpty)
        #expect(try store.runningTaskRun(mac: web01, actions: [.imageRestore], at: t0 + 599)?.key == image)
        #expect(try store.runningTaskRun(mac: web01, actions: [.imageRestore], at: t0 + 601) == nil, "past its deadline: over")
        let overdue = try store.failOverdueTaskRuns(at: t0 + 601)
        #expect(overdue.map(\.key) == [image] && overdue.map(\.state) == [.failed])
        #expect(try store.taskRuns(task: "img").first?.error == "timed out: no result within 600 s")
        #expect(try store.runningTaskRun(mac: web01, actions: [.imageRestore], at: t0) == nil)
    }

    static func bootRecord(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let other = MACAddress("94:18:82:3a:5c:11")!
        #expect(try store.bootRecord(web01, runOf: [.imageRestore], at: t0) == BootRecord(), "a MAC the store has never seen")
        try store.installStarted(web01, generation: 1, at: t0)
        try store.installFinished(web01, generation: 1, at: t0 + 600)
        try store.installStarted(web01, generation: 2, at: t0 + 700)
        try store.installStarted(other, generation: 7, at: t0)
        let image = TaskRunKey(task: "img", revision: "r1", machine: "web-01")
        _ = try store.startTaskRun(TaskRun(key: image, mac: web01, action: .imageRestore, state: .running, startedAt: t0, deadline: t0 + 900))
        _ = try store.startTaskRun(TaskRun(key: TaskRunKey(task: "ssh", revision: "r1", machine: "web-01"), mac: web01, action: .ssh,
                                           state: .running, startedAt: t0 + 10))
        _ = try store.startTaskRun(TaskRun(key: TaskRunKey(task: "img", revision: "r1", machine: "web-02"), mac: other,
                                           action: .imageRestore, state: .running, startedAt: t0))
        // The one read says what the separate ones say, of this MAC only.
        let record = try store.bootRecord(web01, runOf: [.imageCapture, .imageRestore], at: t0 + 800)
        #expect(record.state == .installing && record.installedGeneration == 1)
        #expect(try record.attempts == store.installAttempts(web01) && record.attempts.map(\.generation) == [1, 2])
        #expect(try record.run?.key == image && record.run == store.runningTaskRun(mac: web01, actions: [.imageCapture, .imageRestore], at: t0 + 800))
        #expect(try store.bootRecord(web01, runOf: [.imageCapture, .imageRestore], at: t0 + 901).run == nil, "past its deadline")
        #expect(try store.bootRecord(web01, runOf: [.imageCapture], at: t0 + 800).run == nil, "another action")
        #expect(try store.bootRecord(web01, runOf: [], at: t0 + 800).run == nil)
    }

    static func retention(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let long = String(repeating: "V", count: 3_000_000)
        try store.recordHardware(web01, Hardware(vendor: long, model: long, cpus: 16), at: t0)
        let quoted = try #require(try store.events(for: web01, limit: 1).first)
        #expect(quoted.message.count < 200, "the event quotes at most 64 characters of each name")
        try store.record(MachineEvent(mac: web01, at: t0, kind: "note", message: long))
        #expect(try store.events(for: web01, limit: 1).first?.message.count == 2000)

        for day in 1...40 {
            try store.record(MachineEvent(mac: web01, at: t0 + Double(day) * 86_400, kind: "note", message: "day \(day)"))
        }
        let other = MACAddress("94:18:82:3a:5c:2e")!
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0, power: "On"),
                                     BMCRecord(mac: other, readAt: t0 + 40 * 86_400, power: "On")])
        var retention = StoreRetention()
        retention.eventMaxAge = .seconds(30 * 86_400)
        retention.maxEvents = 20
        retention.bmcReadingMaxAge = .seconds(10 * 86_400)
        try store.prune(retention, now: t0 + 40 * 86_400)
        let kept = try store.events(for: nil, limit: 1000)
        #expect(kept.count == 20)
        #expect(kept.first?.message == "day 40" && kept.last?.message == "day 21")
        #expect(try store.bmcReadings().keys.sorted { $0.description < $1.description } == [other])
    }

    static func bmcReadings(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let firmware = ObservedFirmware(model: "ProLiant DL360 Gen10", versions: ["iLO 5": "2.72"])
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0, power: "On", model: "HPE ProLiant DL360 Gen10", firmware: firmware,
                                               smartArrayControllers: 2)])
        #expect(try store.bmcReadings()[web01]?.firmware == firmware)
        #expect(try store.bmcReadings()[web01]?.smartArrayControllers == 2, "the ACU link's condition survives the store")
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0 + 60, error: "198.18.0.121: unreachable")])
        let reading = try #require(try store.bmcReadings()[web01])
        #expect(reading.readAt == t0 + 60 && reading.power == nil && reading.firmware == nil && reading.error == "198.18.0.121: unreachable")
        #expect(reading.smartArrayControllers == nil, "a failed read says nothing of Smart Arrays")
    }

    /// A DL360 Gen10's BIOS as the loader's check needs it: a string, an integer, a boolean
    /// read from the pending settings only, a null, and a name no spec could write.
    static let gen10BIOS = BIOSAttributeTypes(
        names: ["ProcHyperthreading", "NetworkBootRetryCount", "Sriov", "AdminName", "Not a name"],
        current: ["ProcHyperthreading": .string("Enabled"), "NetworkBootRetryCount": .integer(20), "Not a name": .string("x")],
        pending: ["Sriov": .boolean(true)])

    static func biosAttributes(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let web02 = MACAddress("94:18:82:3a:5c:2e")!
        #expect(gen10BIOS.types == ["ProcHyperthreading": .string, "NetworkBootRetryCount": .integer, "Sriov": .boolean, "AdminName": nil])
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0, power: "On", biosAttributes: gen10BIOS),
                                     BMCRecord(mac: web02, readAt: t0, power: "On", biosAttributes: gen10BIOS)])
        // Read again by a new process, as `dploy plan` reads what the daemon stored.
        let reopened = try subject.reopen()
        #expect(try reopened.biosAttributes() == [web01: gen10BIOS, web02: gen10BIOS])
        #expect(try reopened.bmcReadings()[web01]?.biosAttributes == nil, "pages that list readings do not read them")
        // The next round reads the same: the rows stay as they are.
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0 + 60, power: "On", biosAttributes: gen10BIOS)])
        #expect(try store.biosAttributes()[web01] == gen10BIOS)
        // A read that fails (or no longer reads the BIOS) says nothing of it: the machine's go.
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0 + 120, error: "198.18.0.121: unreachable")])
        #expect(try store.biosAttributes() == [web02: gen10BIOS])
        // And they go with their reading when it is pruned.
        var retention = StoreRetention()
        retention.bmcReadingMaxAge = .seconds(60)
        try store.prune(retention, now: t0 + 120)
        #expect(try store.bmcReadings().keys.map(\.description) == [web01.description])
        #expect(try store.biosAttributes().isEmpty)

        try store.recordBMCReadings([BMCRecord(mac: web02, readAt: t0 + 180, biosAttributes: gen10BIOS)])
        try subject.execute("UPDATE biosAttributes SET attributes = 'Sriov:boolean'", "UPDATE bios_attributes SET attributes = 'Sriov:boolean'")
        #expect { try store.biosAttributes() } throws: { "\($0)".contains("biosAttributes row '94:18:82:3a:5c:2e'") }
    }

    static func rediscover(_ subject: StoreUnderTest) throws {
        let store = subject.store
        try store.recordHardware(web01, Hardware(vendor: "HPE", model: "ProLiant DL360 Gen10", cpus: 16), at: t0)
        try store.installStarted(web01, generation: 2, at: t0 + 1)
        try store.installFinished(web01, generation: 2, at: t0 + 2)
        try store.forgetMachine(web01, reason: "task 'forget-web-01'", at: t0 + 3)
        let forgotten = try #require(try store.machine(web01))
        #expect(forgotten.state == .rediscovering && forgotten.installedGeneration == nil && forgotten.hardware == nil)
        #expect(try store.installAttempts(web01).isEmpty && store.installedGenerations().isEmpty)
        #expect(try store.events(for: web01, limit: 1).first?.message
                == "hardware and installs forgotten (task 'forget-web-01'); the next network boot is a discovery")
        try store.recordHardware(web01, Hardware(vendor: "HPE", model: "ProLiant DL360 Gen10", cpus: 32), at: t0 + 4)
        #expect(try store.machine(web01)?.state == .discovered)
        #expect(try store.machine(web01)?.hardware?.cpus == 32)
    }

    static func unknownStateRefused(_ subject: StoreUnderTest) throws {
        let store = subject.store
        try store.installStarted(web01, generation: 1, at: t0)
        _ = try store.startTaskRun(TaskRun(key: TaskRunKey(task: "motd", revision: "r1", machine: "web-01"), mac: web01,
                                           action: .ssh, state: .running, startedAt: t0))
        // What a newer dploy, or a hand edit, may leave behind.
        try subject.execute("UPDATE machine SET state = 'exploded'", "UPDATE machine SET state = 'exploded'")
        try subject.execute("UPDATE taskRun SET state = 'paused'", "UPDATE task_run SET state = 'paused'")
        #expect { try store.machines() } throws: { "\($0)".contains("exploded") }
        #expect { try store.machine(web01) } throws: { "\($0)".contains("exploded") }
        #expect { try store.taskRunStates() } throws: { "\($0)".contains("paused") }
        #expect { try store.taskRuns(task: nil) } throws: { "\($0)".contains("paused") }
        try subject.execute("UPDATE taskRun SET state = 'running', action = 'teleport'",
                            "UPDATE task_run SET state = 'running', action = 'teleport'")
        #expect { try store.taskRuns(task: nil) } throws: { "\($0)".contains("teleport") }
    }

    static func corruptRowsNamed(_ subject: StoreUnderTest) throws {
        let store = subject.store
        try store.recordHardware(web01, Hardware(cpus: 2), at: t0)
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0, power: "On")])
        try subject.execute("UPDATE hardware SET json = '{\"cpus\": \"two\"'", "UPDATE hardware SET json = '{\"cpus\": \"two\"'")
        #expect { try store.machines() } throws: { "\($0)".contains("the store's hardware row '94:18:82:3a:5c:10' cannot be read") }
        // The machine's next report replaces the unreadable one.
        try store.recordHardware(web01, Hardware(cpus: 4), at: t0 + 60)
        #expect(try store.machine(web01)?.hardware?.cpus == 4)

        try subject.execute("INSERT INTO machine (mac, firstSeen, lastSeen, state) VALUES ('not-a-mac', '2026-11-27 20:13:37', '2026-11-27 20:13:37', 'known')",
                            "INSERT INTO machine (mac, first_seen, last_seen, state) VALUES ('not-a-mac', '2026-11-27 20:13:37', '2026-11-27 20:13:37', 'known')")
        try subject.execute("UPDATE bmcReading SET firmware = 'garbage'", "UPDATE bmc_reading SET firmware = 'garbage'")
        #expect { try store.machines() } throws: { "\($0)".contains("the store's machine row 'not-a-mac' cannot be read: not a MAC address") }
        #expect { try store.bmcReadings() } throws: { "\($0)".contains("bmcReading row '94:18:82:3a:5c:10'") }
    }

    static func job(_ machine: String, _ step: String, kind: BMCJobKind = .firmware) -> BMCJob {
        BMCJob(machine: machine, mac: MACAddress("52:54:00:00:00:01"), kind: kind, step: step, payload: "{\"kind\":\"x\"}",
               createdAt: t0)
    }

    static func bmcJobs(_ subject: StoreUnderTest) throws {
        let store = subject.store
        let a1 = try #require(try store.enqueueBMCJob(job("a", "firmware System ROM 2.90")))
        #expect(try store.enqueueBMCJob(job("a", "firmware System ROM 2.90")) == nil, "already queued")
        let a2 = try #require(try store.enqueueBMCJob(job("a", "firmware iLO 5 3.08")))
        let b1 = try #require(try store.enqueueBMCJob(job("b", "bios", kind: .bios)))
        #expect(a1.state == .queued && a2.id > a1.id && b1.id > a2.id)

        #expect(try store.claimBMCJob(site: "default", at: t0)?.id == a1.id)
        #expect(try store.enqueueBMCJob(job("a", "firmware System ROM 2.90")) == nil, "running")
        // a has a running job: its second step waits, b's goes next.
        #expect(try store.claimBMCJob(site: "default", at: t0)?.id == b1.id)
        #expect(try store.claimBMCJob(site: "default", at: t0) == nil)

        #expect(try store.updateBMCJob(a1.id, BMCJobUpdate(submittedAt: t0 + 1, tracking: "hpe /redfish/v1/UpdateService")))
        #expect(try !store.updateBMCJob(a1.id, BMCJobUpdate(submittedAt: t0 + 2)), "the right to send the request is had once")
        #expect(try store.updateBMCJob(a1.id, BMCJobUpdate(status: "Writing", percent: 40)))
        let running = try #require(try store.bmcJobs(states: [.running], machine: "a", limit: 10).first)
        #expect(running.tracking == "hpe /redfish/v1/UpdateService" && running.submittedAt == t0 + 1 && running.percent == 40)
        #expect(running.progressText == "in progress, 40 % (Writing)")

        #expect(try store.finishBMCJob(a1.id, .failed, error: "Error (iLO.2.8.UpdateFailedFlashError)", at: t0 + 5))
        #expect(try !store.finishBMCJob(a1.id, .succeeded, error: nil, at: t0 + 6), "ends once")
        #expect(try !store.updateBMCJob(a1.id, BMCJobUpdate(percent: 90)), "an ended job takes no progress")
        let skipped = try #require(try store.bmcJobs(states: nil, machine: "a", limit: 10).first { $0.id == a2.id })
        #expect(skipped.state == .skipped && skipped.error?.contains("job \(a1.id)") == true)
        #expect(try store.bmcJobs(states: [.running], machine: "b", limit: 10).map(\.id) == [b1.id], "b goes on")
        #expect(try store.claimBMCJob(site: "default", at: t0 + 6) == nil)
        #expect(try store.finishBMCJob(b1.id, .succeeded, error: nil, at: t0 + 7))
        #expect(try store.bmcJobs(states: nil, machine: "b", limit: 10).first?.percent == 100)
        // Filtered by kind (what a claim counts of one rollout), with state and machine.
        #expect(try store.bmcJobs(states: nil, kinds: [.bios], machine: nil, limit: 10).map(\.id) == [b1.id])
        #expect(try store.bmcJobs(states: [.failed, .skipped], kinds: [.firmware], machine: "a", limit: 10).map(\.id) == [a2.id, a1.id])
        #expect(try store.bmcJobs(states: [.failed], kinds: [.bios, .raid], machine: nil, limit: 10).isEmpty)

        // The newest per machine and step: a retry of the failed step replaces it there.
        let retry = try #require(try store.enqueueBMCJob(job("a", "firmware System ROM 2.90")))
        let latest = Dictionary(try store.latestBMCJobs().map { ("\($0.machine) \($0.step)", $0) }) { _, last in last }
        #expect(latest["a firmware System ROM 2.90"]?.id == retry.id)
        #expect(latest["a firmware iLO 5 3.08"]?.state == .skipped)
        #expect(latest["b bios"]?.state == .succeeded)
        #expect(try subject.reopen().bmcJobs(states: [.queued], machine: nil, limit: 10).map(\.id) == [retry.id])

        try store.resumeRollout("gen10", at: t0)
        try store.resumeRollout("gen10", at: t0 + 60)
        #expect(try store.rolloutResumes() == ["gen10": t0 + 60])
    }

    static func concurrentClaims(_ subject: StoreUnderTest) throws {
        let store = subject.store
        for index in 0..<200 { _ = try store.enqueueBMCJob(job("m\(index)", "bios", kind: .bios)) }
        let claimed = Mutex<[Int64]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            var misses = 0
            // A claim that lost a race returns nil once; only a second nil in a row means none is left.
            while misses < 2 {
                if let job = try? store.claimBMCJob(site: "default", at: t0) { claimed.withLock { $0.append(job.id) }; misses = 0 } else { misses += 1 }
            }
        }
        #expect(claimed.withLock { $0.count } == 200 && Set(claimed.withLock { $0 }).count == 200)
    }

    static func sites(_ subject: StoreUnderTest) throws {
        let store = subject.store
        var london = job("lon-web-01", "bios", kind: .bios)
        london.site = "lon"
        let queuedInLondon = try #require(try store.enqueueBMCJob(london))
        let queuedHere = try #require(try store.enqueueBMCJob(job("web-01", "bios", kind: .bios)))
        #expect(queuedInLondon.site == "lon" && queuedHere.site == "default")
        // Each site's controller claims its own machines' jobs only: the other has no BMC for them.
        #expect(try store.claimBMCJob(site: "default", at: t0)?.id == queuedHere.id)
        #expect(try store.claimBMCJob(site: "default", at: t0) == nil, "London's job is not this site's")
        #expect(try store.claimBMCJob(site: "lon", at: t0)?.id == queuedInLondon.id)

        #expect(try store.sites().isEmpty, "no site has run yet")
        func run(_ site: String, _ result: String, at: Date) -> SiteRun {
            SiteRun(site: site, holder: "pid 1 on boot-\(site)", trigger: "timer", result: result, source: "abc123 \"Add web-05\"",
                    message: "\(result) at \(at)", startedAt: at - 1, finishedAt: at)
        }
        try store.recordSiteRun(run("lon", "converged", at: t0))
        try store.recordSiteRun(run("default", "failed", at: t0 + 10))
        try store.recordSiteRun(run("default", "unchanged", at: t0 + 20))
        let sites = try subject.reopen().sites()
        #expect(sites.map(\.site) == ["default", "lon"], "one row a site, sorted")
        #expect(sites.first?.lastRun == run("default", "unchanged", at: t0 + 20), "the newest run replaces the one before")
        #expect(sites.last?.lastRun == run("lon", "converged", at: t0))
    }

    /// A store with a little of everything, for copies.
    static func fill(_ store: any Store) throws {
        for index in 0..<20 {
            let mac = MACAddress(String(format: "94:18:82:00:00:%02x", index))!
            try store.recordHardware(mac, Hardware(vendor: "HPE", model: "DL360", cpus: 2 + index), at: t0 + Double(index))
            try store.installStarted(mac, generation: 1, at: t0 + 100)
            if index % 3 == 0 {
                try store.installFailed(mac, generation: 1, reason: "no callback", at: t0 + 200)
            } else {
                try store.installFinished(mac, generation: 1, at: t0 + 200)
            }
        }
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0, power: "On", firmware: ObservedFirmware(model: nil, versions: [
            "System ROM": "U30 v2.80"]), biosAttributes: gen10BIOS)])
        let key = TaskRunKey(task: "motd", revision: "r1", machine: "web-01")
        _ = try store.startTaskRun(TaskRun(key: key, mac: web01, action: .ssh, state: .running, startedAt: t0, deadline: t0 + 60))
        _ = try store.finishTaskRun(key, .failed("exit 1", exitCode: 1, output: "nope"), at: t0 + 5)
        try store.forgetMachine(MACAddress("94:18:82:00:00:01")!, reason: "test", at: t0 + 300)
        // A flash done, one being followed (its tracking in the row), one queued behind it.
        let done = try #require(try store.enqueueBMCJob(job("web-01", "firmware System ROM 2.90")))
        _ = try store.claimBMCJob(site: "default", at: t0 + 400)
        _ = try store.updateBMCJob(done.id, BMCJobUpdate(submittedAt: t0 + 401, tracking: "task:/redfish/v1/TaskService/Tasks/1"))
        _ = try store.finishBMCJob(done.id, .succeeded, error: nil, at: t0 + 460)
        let running = try #require(try store.enqueueBMCJob(job("web-02", "firmware iLO 5 3.08")))
        _ = try store.enqueueBMCJob(job("web-02", "bios", kind: .bios))
        _ = try store.claimBMCJob(site: "default", at: t0 + 500)
        _ = try store.updateBMCJob(running.id, BMCJobUpdate(submittedAt: t0 + 501, tracking: "ilo5", status: "Writing", percent: 40))
        var london = job("lon-web-01", "bios", kind: .bios)
        london.site = "lon"
        _ = try store.enqueueBMCJob(london)
        try store.resumeRollout("gen10-2026-10", at: t0 + 600)
        _ = try store.sharedSecret("callback-key", proposing: Array(repeating: 7, count: 32))
    }

    static func copiesRowByRow(_ subject: StoreUnderTest, into other: StoreUnderTest) throws {
        try fill(subject.store)
        let copied = try StoreCopy.copy(from: subject.store, to: other.store)
        #expect(copied.counts.map(\.rows) == [20, 19, 19, copied.events.count, 1, 1, 1, 4, 1, 1] && copied.events.count > 60)
        #expect(try other.store.snapshot() == subject.store.snapshot())
        // The jobs as the workers and the planner read them: a new runner follows the running
        // flash from its tracking, and the copy's controllers sign callbacks with the same key.
        #expect(try other.store.bmcJobs(states: nil, machine: nil, limit: 10) == subject.store.bmcJobs(states: nil, machine: nil, limit: 10))
        #expect(try other.store.bmcJobs(states: [.running], machine: nil, limit: 10).map(\.tracking) == ["ilo5"])
        #expect(try other.store.bmcJobs(states: [.queued], machine: "lon-web-01", limit: 10).map(\.site) == ["lon"], "a job keeps its site")
        #expect(try other.store.rolloutResumes() == ["gen10-2026-10": t0 + 600])
        #expect(try other.store.biosAttributes() == [web01: gen10BIOS], "specs are checked against the copy's BIOS readings too")
        #expect(try other.store.sharedSecret("callback-key", proposing: Array(repeating: 9, count: 32)) == Array(repeating: 7, count: 32))
        // A new job goes after the copied ones too.
        #expect(try #require(try other.store.enqueueBMCJob(job("web-03", "bios", kind: .bios))).id == 5)
        #expect(try other.store.machines() == subject.store.machines())
        #expect(try other.store.events(for: nil, limit: 5) == subject.store.events(for: nil, limit: 5))
        // New rows go after the copied ones: ids were moved past the highest copied.
        try other.store.record(MachineEvent(mac: web01, at: t0 + 999, kind: "note", message: "after the copy"))
        #expect(try other.store.events(for: nil, limit: 1).first?.message == "after the copy")
        #expect(throws: StoreError.self, "a copy goes into an empty store only") {
            try StoreCopy.copy(from: subject.store, to: other.store)
        }
    }
}

@Suite("The SQLite store keeps the store contract", .ownThread)
struct SQLiteStoreContractTests {
    @Test("an empty file migrates; a machine is seen, installs once, and the store says so after a restart")
    func installLifecycle() throws { try StoreContract.installLifecycle(.sqlite()) }
    @Test("a failed install is recorded with its reason, and never counts as installed")
    func failedInstall() throws { try StoreContract.failedInstall(.sqlite()) }
    @Test("hardware reports are kept per machine; the newest replaces the last and says what changed")
    func hardware() throws { try StoreContract.hardware(.sqlite()) }
    @Test("a task run is recorded once, ends once, and says how")
    func taskRunsOnce() throws { try StoreContract.taskRunsOnce(.sqlite()) }
    @Test("runs cut short by a dead process fail as interrupted; imaging runs fail at their deadline, not before")
    func interruptedAndOverdue() throws { try StoreContract.interruptedAndOverdue(.sqlite()) }
    @Test("what a boot is decided from is one read: state, attempts, and the running imaging run, of that MAC only")
    func bootRecord() throws { try StoreContract.bootRecord(.sqlite()) }
    @Test("events are capped in length and pruned by age and count; BMC readings not renewed are pruned")
    func retention() throws { try StoreContract.retention(.sqlite()) }
    @Test("a BMC reading replaces the one before, firmware inventory and all")
    func bmcReadings() throws { try StoreContract.bmcReadings(.sqlite()) }
    @Test("BIOS attribute names and types are kept with their reading: replaced, removed by a failed read, pruned with it")
    func biosAttributes() throws { try StoreContract.biosAttributes(.sqlite()) }
    @Test("rediscover forgets hardware and installs; the next hardware report makes the machine discovered again")
    func rediscover() throws { try StoreContract.rediscover(.sqlite()) }
    @Test("a state this dploy does not know is an error that names it, never read as another state")
    func unknownStateRefused() throws { try StoreContract.unknownStateRefused(.sqlite()) }
    @Test("a row that cannot be read is an error naming it, not a machine quietly missing or without hardware")
    func corruptRowsNamed() throws { try StoreContract.corruptRowsNamed(.sqlite()) }
    @Test("BMC jobs: queued once per step, claimed oldest first and one per machine, a failure skips the machine's rest")
    func bmcJobs() throws { try StoreContract.bmcJobs(.sqlite()) }
    @Test("four workers racing over 200 jobs claim each exactly once")
    func concurrentClaims() throws { try StoreContract.concurrentClaims(.sqlite()) }
    @Test("sites: a site's controller claims its own jobs only; each site's last run replaces the one before")
    func sites() throws { try StoreContract.sites(.sqlite()) }
    @Test("a copy into another SQLite store matches row by row, and refuses a store that holds rows")
    func copiesRowByRow() throws { try StoreContract.copiesRowByRow(.sqlite(), into: .sqlite()) }
}

@Suite("The PostgreSQL store keeps the store contract", .ownThread, .requires(.postgres, .initdb, .psql))
struct PostgresStoreContractTests {
    @Test("an empty database migrates; a machine is seen, installs once, and the store says so after a restart")
    func installLifecycle() throws { try StoreContract.installLifecycle(.postgres()) }
    @Test("a failed install is recorded with its reason, and never counts as installed")
    func failedInstall() throws { try StoreContract.failedInstall(.postgres()) }
    @Test("hardware reports are kept per machine; the newest replaces the last and says what changed")
    func hardware() throws { try StoreContract.hardware(.postgres()) }
    @Test("a task run is recorded once, ends once, and says how")
    func taskRunsOnce() throws { try StoreContract.taskRunsOnce(.postgres()) }
    @Test("runs cut short by a dead process fail as interrupted; imaging runs fail at their deadline, not before")
    func interruptedAndOverdue() throws { try StoreContract.interruptedAndOverdue(.postgres()) }
    @Test("what a boot is decided from is one read: state, attempts, and the running imaging run, of that MAC only")
    func bootRecord() throws { try StoreContract.bootRecord(.postgres()) }
    @Test("events are capped in length and pruned by age and count; BMC readings not renewed are pruned")
    func retention() throws { try StoreContract.retention(.postgres()) }
    @Test("a BMC reading replaces the one before, firmware inventory and all")
    func bmcReadings() throws { try StoreContract.bmcReadings(.postgres()) }
    @Test("BIOS attribute names and types are kept with their reading: replaced, removed by a failed read, pruned with it")
    func biosAttributes() throws { try StoreContract.biosAttributes(.postgres()) }
    @Test("rediscover forgets hardware and installs; the next hardware report makes the machine discovered again")
    func rediscover() throws { try StoreContract.rediscover(.postgres()) }
    @Test("a state this dploy does not know is an error that names it, never read as another state")
    func unknownStateRefused() throws { try StoreContract.unknownStateRefused(.postgres()) }
    @Test("a row that cannot be read is an error naming it, not a machine quietly missing or without hardware")
    func corruptRowsNamed() throws { try StoreContract.corruptRowsNamed(.postgres()) }
    @Test("BMC jobs: queued once per step, claimed oldest first and one per machine, a failure skips the machine's rest")
    func bmcJobs() throws { try StoreContract.bmcJobs(.postgres()) }
    @Test("four workers racing over 200 jobs claim each exactly once")
    func concurrentClaims() throws { try StoreContract.concurrentClaims(.postgres()) }
    @Test("sites: a site's controller claims its own jobs only; each site's last run replaces the one before")
    func sites() throws { try StoreContract.sites(.postgres()) }
    @Test("SQLite → PostgreSQL → SQLite: each copy matches row by row")
    func copiesBothWays() throws {
        let sqlite = try StoreUnderTest.sqlite()
        let postgres = try StoreUnderTest.postgres()
        try StoreContract.copiesRowByRow(sqlite, into: postgres)
        let back = try StoreUnderTest.sqlite()
        try StoreCopy.copy(from: postgres.store, to: back.store)
        #expect(try back.store.snapshot().firstDifference(from: sqlite.store.snapshot()) == "event row '\(try sqlite.store.snapshot().events.count + 1)' (not in the source)")
    }
}
