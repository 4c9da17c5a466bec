import GRDB
@testable import DployInventory
import DploySpec
import Foundation
import Testing

@Suite("The SQLite store")
struct SQLiteStoreTests {
    let folder: URL
    let web01 = MACAddress("94:18:82:3a:5c:10")!
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    var path: String { folder.appendingPathComponent("state/dploy.db").path }

    @Test("a new store and its folder are the dploy user's and group's only, not the umask's")
    func newStoreModes() throws {
        let store = try SQLiteStore(path: path)
        try store.recordSeen(web01, address: "198.18.0.11", at: t0)
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? -1) & 0o7777
        }
        #expect(try mode((path as NSString).deletingLastPathComponent) == 0o750)
        // SQLite gives the write-ahead log and its index the database file's mode.
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(try mode(file) == 0o640, "\(file)")
        }
    }

    @Test("a store from the first version migrates, keeping its machines; a BMC reading replaces the one before")
    func migratesFromV1() throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let v1 = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(v1, upTo: "v1: machines, hardware, installs, events")
        try v1.write { db in
            try db.execute(sql: "INSERT INTO machine (mac, firstSeen, lastSeen, state) VALUES (?, ?, ?, 'known')",
                           arguments: [web01.description, t0, t0])
        }
        try v1.close()
        #expect(throws: StoreError.self, "a reader refuses the old version and changes nothing") {
            try SQLiteStore(path: path, readOnly: true)
        }

        let store = try SQLiteStore(path: path)
        #expect(try store.machine(web01)?.state == .known)
        #expect(try store.bmcReadings().isEmpty)
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0, power: "On", model: "HPE ProLiant DL360 Gen10")])
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0 + 60, error: "198.18.0.121: unreachable")])
        let reading = try #require(try store.bmcReadings()[web01])
        #expect(reading.readAt == t0 + 60 && reading.power == nil && reading.error == "198.18.0.121: unreachable")
        #expect(StoreSchema.versions == ["v1: machines, hardware, installs, events", "v2: bmc readings", "v3: task runs",
                                         "v4: hardware changes, firmware readings", "v5: bmc jobs"])
    }

    @Test("a v2 store migrates to task runs, keeping its machines; a run is recorded once, ends once, and says how")
    func taskRunsOnce() throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let v2 = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(v2, upTo: "v2: bmc readings")
        try v2.write { db in
            try db.execute(sql: "INSERT INTO machine (mac, firstSeen, lastSeen, state) VALUES (?, ?, ?, 'installed')",
                           arguments: [web01.description, t0, t0])
        }
        try v2.close()
        let store = try SQLiteStore(path: path)
        #expect(try store.machine(web01)?.state == .installed)

        let key = TaskRunKey(task: "rotate-motd", revision: "0123456789abcdef", machine: "web-01")
        let run = TaskRun(key: key, mac: web01, action: .ssh, state: .running, startedAt: t0)
        #expect(try store.startTaskRun(run))
        #expect(try !store.startTaskRun(run), "a second start of the same run records nothing")
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
    }

    @Test("runs cut short by a dead process fail as interrupted; imaging runs fail at their deadline, not before")
    func interruptedAndOverdue() throws {
        let store = try SQLiteStore(path: path)
        let ssh = TaskRunKey(task: "t", revision: "r1", machine: "web-01")
        let image = TaskRunKey(task: "img", revision: "r2", machine: "web-01")
        _ = try store.startTaskRun(TaskRun(key: ssh, mac: web01, action: .ssh, state: .running, startedAt: t0))
        _ = try store.startTaskRun(TaskRun(key: image, mac: web01, action: .imageRestore, state: .running, startedAt: t0,
                                           deadline: t0 + 600))
        #expect(try store.failInterruptedTaskRuns(actions: [.ssh, .power, .rediscover], at: t0 + 5).map(\.key) == [ssh])
        #expect(try store.taskRuns(task: "t").first?.error == "interrupted: dploy stopped while it ran; a task is not run twice")
        #expect(try store.failOverdueTaskRuns(at: t0 + 599).isEmpty)
        #expect(try store.runningTaskRun(mac: web01, actions: [.imageRestore], at: t0 + 599)?.key == image)
        #expect(try store.runningTaskRun(mac: web01, actions: [.imageRestore], at: t0 + 601) == nil, "past its deadline: over")
        let overdue = try store.failOverdueTaskRuns(at: t0 + 601)
        #expect(overdue.map(\.key) == [image] && overdue.map(\.state) == [.failed])
        #expect(try store.taskRuns(task: "img").first?.error == "timed out: no result within 600 s")
        #expect(try store.runningTaskRun(mac: web01, actions: [.imageRestore], at: t0) == nil)
    }

    @Test("events are capped in length and pruned by age and count; BMC readings not renewed are pruned")
    func retention() throws {
        let store = try SQLiteStore(path: path)
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
        var retention = SQLiteStore.Retention()
        retention.eventMaxAge = .seconds(30 * 86_400)
        retention.maxEvents = 20
        retention.bmcReadingMaxAge = .seconds(10 * 86_400)
        try store.prune(retention, now: t0 + 40 * 86_400)
        let kept = try store.events(for: nil, limit: 1000)
        #expect(kept.count == 20)
        #expect(kept.first?.message == "day 40" && kept.last?.message == "day 21")
        #expect(try store.bmcReadings().keys.sorted { $0.description < $1.description } == [other])
    }

    @Test("rediscover forgets hardware and installs; the next hardware report makes the machine discovered again")
    func rediscover() throws {
        let store = try SQLiteStore(path: path)
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

    @Test("an empty file migrates; a machine is seen, installs once, and the store says so after a restart")
    func installLifecycle() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            let store = try SQLiteStore(path: path)
            #expect(try store.machines().isEmpty)
            try store.recordSeen(web01, address: "198.18.0.21", at: t0)
            try store.installStarted(web01, generation: 1, at: t0.addingTimeInterval(10))
            #expect(try store.machine(web01)?.state == .installing)
            #expect(try store.installedGenerations().isEmpty)
            try store.installFinished(web01, generation: 1, at: t0.addingTimeInterval(600))
        }
        // A new process: everything is still there.
        let reopened = try SQLiteStore(path: path)
        let machine = try #require(try reopened.machine(web01))
        #expect(machine.state == .installed)
        #expect(machine.installedGeneration == 1)
        #expect(machine.address == "198.18.0.21")
        #expect(machine.firstSeen == t0)
        #expect(machine.lastSeen == t0.addingTimeInterval(600))
        #expect(try reopened.installedGenerations() == [web01: 1])
        let attempts = try reopened.installAttempts(web01)
        #expect(attempts.count == 1)
        #expect(attempts[0].finishedAt == t0.addingTimeInterval(600))
        #expect(try reopened.events(for: web01, limit: 10).map(\.kind) == ["install-finished", "install-started", "seen"])
    }

    @Test("a failed install is recorded with its reason, and never counts as installed")
    func failedInstall() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: path)
        try store.installStarted(web01, generation: 2, at: t0)
        try store.installFailed(web01, generation: 2, reason: "no callback after 3 attempts", at: t0.addingTimeInterval(3600))
        #expect(try store.machine(web01)?.state == .failed)
        #expect(try store.installedGenerations().isEmpty)
        #expect(try store.installAttempts(web01).first?.failure == "no callback after 3 attempts")
        #expect(try store.events(for: nil, limit: 1).first?.message == "generation 2: no callback after 3 attempts")
    }

    @Test("hardware reports are kept per machine; the newest replaces the last")
    func hardware() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: path)
        let first = Hardware(vendor: "HPE", model: "ProLiant DL360 Gen10", serial: "CZ0000001", cpus: 2, memoryBytes: 64 << 30,
                             disks: [.init(name: "/dev/sda", sizeBytes: 480_000_000_000)],
                             nics: [.init(name: "eno1", mac: web01.description, linkUp: true)])
        try store.recordHardware(web01, first, at: t0)
        var second = first
        second.memoryBytes = 128 << 30
        try store.recordHardware(web01, second, at: t0.addingTimeInterval(60))
        #expect(try store.machine(web01)?.hardware == second)
        #expect(try store.machine(web01)?.state == .discovered)
    }

    @Test("a backup taken while the store is open is a complete, readable copy, and never overwrites")
    func backup() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: path)
        for index in 0..<50 {
            let mac = try #require(MACAddress(String(format: "94:18:82:00:00:%02x", index)))
            try store.installStarted(mac, generation: 1, at: t0)
            try store.installFinished(mac, generation: 1, at: t0.addingTimeInterval(1))
        }
        let copyPath = folder.appendingPathComponent("backup.db").path
        try store.backup(to: copyPath)
        let copy = try SQLiteStore(path: copyPath)
        #expect(try copy.installedGenerations().count == 50)
        #expect(throws: StoreError.backupExists(copyPath)) { try store.backup(to: copyPath) }
    }

    @Test("a state this dploy does not know is an error that names it, never read as another state")
    func unknownStateRefused() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: path)
        try store.installStarted(web01, generation: 1, at: t0)
        _ = try store.startTaskRun(TaskRun(key: TaskRunKey(task: "motd", revision: "r1", machine: "web-01"), mac: web01,
                                        action: .ssh, state: .running, startedAt: t0))
        // What a newer dploy, or a hand edit, may leave behind.
        try store.pool.write { db in
            try db.execute(sql: "UPDATE machine SET state = 'exploded'")
            try db.execute(sql: "UPDATE taskRun SET state = 'paused'")
        }
        #expect { try store.machines() } throws: { "\($0)".contains("exploded") }
        #expect { try store.machine(web01) } throws: { "\($0)".contains("exploded") }
        #expect { try store.taskRunStates() } throws: { "\($0)".contains("paused") }
        #expect { try store.taskRuns(task: nil) } throws: { "\($0)".contains("paused") }
        try store.pool.write { db in try db.execute(sql: "UPDATE taskRun SET state = 'running', action = 'teleport'") }
        #expect { try store.taskRuns(task: nil) } throws: { "\($0)".contains("teleport") }
    }

    @Test("a row that cannot be read is an error naming it, not a machine quietly missing or without hardware")
    func corruptRowsNamed() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: path)
        try store.recordHardware(web01, Hardware(cpus: 2), at: t0)
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0, power: "On")])
        try store.pool.write { db in try db.execute(sql: "UPDATE hardware SET json = '{\"cpus\": \"two\"'") }
        #expect { try store.machines() } throws: { "\($0)".contains("the store's hardware row '94:18:82:3a:5c:10' cannot be read") }
        // The machine's next report replaces the unreadable one.
        try store.recordHardware(web01, Hardware(cpus: 4), at: t0 + 60)
        #expect(try store.machine(web01)?.hardware?.cpus == 4)

        try store.pool.write { db in
            try db.execute(sql: "INSERT INTO machine (mac, firstSeen, lastSeen, state) VALUES ('not-a-mac', ?, ?, 'known')",
                           arguments: [t0, t0])
            try db.execute(sql: "UPDATE bmcReading SET firmware = 'garbage'")
        }
        #expect { try store.machines() } throws: { "\($0)".contains("the store's machine row 'not-a-mac' cannot be read: not a MAC address") }
        #expect { try store.bmcReadings() } throws: { "\($0)".contains("bmcReading row '94:18:82:3a:5c:10'") }
    }
}

@Suite("Dates in the store")
struct StoreDateTests {
    /// Dates around the edges: the epoch, before it, leap days, a fraction that rounds up
    /// in floating point, and a century that is not a leap year.
    let dates = [0, -0.001, -86_400.5, 951_825_600.5, 1_795_000_000.9995, 4_107_542_399.999, 1_709_164_800.042]
        .map(Date.init(timeIntervalSince1970:))

    @Test("are written as GRDB writes them, without its ICU formatter, so older stores read the same")
    func sameTextAsGRDB() throws {
        for date in dates {
            #expect(StoreDate.text(date) == String.fromDatabaseValue(date.databaseValue), "\(date.timeIntervalSince1970)")
        }
    }

    @Test("read back to the millisecond, as GRDB reads them; other forms fall back to GRDB")
    func readBack() throws {
        for date in dates {
            let text = StoreDate.text(date)
            let ours = try #require(StoreDate.date(text), "\(text)")
            let grdb = try #require(Date.fromDatabaseValue(text.databaseValue))
            #expect((ours.timeIntervalSince1970 * 1000).rounded() == (grdb.timeIntervalSince1970 * 1000).rounded(), "\(text)")
        }
        #expect(StoreDate.date("2026-11-27T20:13:37") == Date(timeIntervalSince1970: 1_795_810_417))
        #expect(StoreDate.date("2026-11-27 20:13:37.5") == Date(timeIntervalSince1970: 1_795_810_417.5))
        for text in ["2026-11-27", "2026-13-01 00:00:00", "2026-11-27 20:13:37Z", "yesterday"] {
            #expect(StoreDate.date(text) == nil, "\(text)")
        }
        #expect(StoreDate.decode(1_795_810_417.databaseValue) == Date(timeIntervalSince1970: 1_795_810_417))
        #expect(StoreDate.decode("2026-11-27".databaseValue) == Date.fromDatabaseValue("2026-11-27".databaseValue))
    }
}
