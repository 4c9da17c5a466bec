import DployTestSupport
import GRDB
@testable import DployInventory
import DploySpec
import Foundation
import Synchronization
import Testing

@Suite("The SQLite store", .ownThread)
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

    @Test("a boot's read is answered while other work holds every reader connection of the store")
    func bootReadsHaveTheirOwnConnections() throws {
        let store = try SQLiteStore(path: path)
        try store.installStarted(web01, generation: 2, at: t0)
        // As 64 BMC job workers reading at once do: every reader of the shared pool is taken.
        let readers = store.pool.configuration.maximumReaderCount
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let held = DispatchGroup()
        for _ in 0..<readers {
            held.enter()
            Thread {
                defer { held.leave() }
                do {
                    try store.pool.read { _ in
                        holding.signal()
                        release.wait()
                    }
                } catch {
                    holding.signal()  // the wait below must not hang; the boot read then finds readers free
                }
            }.start()
        }
        for _ in 0..<readers { holding.wait() }
        defer {
            for _ in 0..<readers { release.signal() }
            held.wait()
        }
        let answered = DispatchSemaphore(value: 0)
        let record = Mutex<BootRecord?>(nil)
        Thread {
            let read = try? store.bootRecord(self.web01, runOf: [.imageRestore], at: self.t0)
            record.withLock { $0 = read }
            answered.signal()
        }.start()
        // Microseconds when the boot path has connections of its own; until the readers are
        // released (never, here) when it shares them.
        try #require(answered.wait(timeout: .now() + 10) == .success, "the boot read waited for the shared readers")
        #expect(record.withLock { $0?.attempts.map(\.generation) } == [2])
    }

    @Test("a store closed after boot reads leaves no write-ahead log behind")
    func closesItsBootReadersFirst() throws {
        do {
            let store = try SQLiteStore(path: path)
            try store.installStarted(web01, generation: 2, at: t0)
            #expect(try store.bootRecord(web01, runOf: [], at: t0).attempts.count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "the last connection checkpoints and removes it")
        #expect(try SQLiteStore(path: path, readOnly: true).installAttempts(web01).count == 1)
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
                                         "v4: hardware changes, firmware readings", "v5: bmc jobs", "v6: sites", "v7: shared secrets",
                                         "v8: smart array controllers", "v9: bios attributes"])
    }

    @Test("a v8 store migrates to BIOS attributes, keeping its BMC readings, which list none until read again")
    func migratesFromV8() throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let v8 = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(v8, upTo: "v8: smart array controllers")
        try v8.write { db in
            try db.execute(sql: "INSERT INTO bmcReading (mac, readAt, power, smartArrayControllers) VALUES (?, ?, 'On', 1)",
                           arguments: [web01.description, t0])
        }
        try v8.close()
        #expect(throws: StoreError.self, "a reader refuses the old version") { try SQLiteStore(path: path, readOnly: true) }
        let store = try SQLiteStore(path: path)
        #expect(try store.bmcReadings()[web01]?.smartArrayControllers == 1)
        #expect(try store.biosAttributes().isEmpty)
        let bios = BIOSAttributeTypes(types: ["ProcHyperthreading": .string])
        try store.recordBMCReadings([BMCRecord(mac: web01, readAt: t0 + 60, power: "On", biosAttributes: bios)])
        #expect(try SQLiteStore(path: path, readOnly: true).biosAttributes() == [web01: bios])
    }

    @Test("a v5 store migrates to sites and shared secrets, keeping its BMC jobs, now of the default site")
    func migratesFromV5() throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let v5 = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(v5, upTo: "v5: bmc jobs")
        try v5.write { db in
            try db.execute(sql: """
                INSERT INTO bmcJob (machine, kind, step, payload, state, createdAt) VALUES ('web-01', 'bios', 'bios', '{}', 'queued', ?)
                """, arguments: [t0])
        }
        try v5.close()
        #expect(throws: StoreError.self, "a reader refuses the old version") { try SQLiteStore(path: path, readOnly: true) }
        let store = try SQLiteStore(path: path)
        #expect(try store.bmcJobs(states: [.queued], machine: "web-01", limit: 5).map(\.site) == ["default"])
        #expect(try store.sharedSecret("callback-key", proposing: [1, 2]) == [1, 2])
        #expect(try store.sharedSecret("callback-key", proposing: [3, 4]) == [1, 2], "the first one stored stays")
    }

    @Test("a v2 store migrates to task runs, keeping its machines")
    func migratesFromV2() throws {
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
        #expect(try store.startTaskRun(TaskRun(key: key, mac: web01, action: .ssh, state: .running, startedAt: t0)))
        #expect(try store.taskRunStates() == [key: .running])
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
}

@Suite("Dates in the store", .ownThread)
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
