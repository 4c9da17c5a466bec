import CSQLite
import DploySpec
import Foundation
import GRDB

/// The embedded store: one SQLite file in WAL mode, so the daemon writes while `dploy
/// machines` or `dploy store backup` read.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    /// Connections of the boot path's own (`bootRecord`), so a boot answer never waits for a
    /// reader connection, nor on the pool's locks, behind 64 BMC job workers' reads.
    let bootReads: SQLiteReaders
    public let path: String
    public var location: String { path }

    /// Opens the store at `path`. The daemon opens it writable: created if needed and
    /// migrated. Everything else (`plan`, `machines`, `store backup`) opens it read-only and
    /// refuses a file that is not a dploy store of this version, changing nothing.
    public init(path: String, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        _ = Self.processSettings
        do {
            var configuration = Configuration()
            configuration.foreignKeysEnabled = true
            configuration.busyMode = .timeout(5)
            configuration.readonly = readOnly
            // Each connection's page cache (SQLite's default, 2 MB) filled up in a daemon that
            // reads ten thousand machines every run: some 5 MB of its heap across the pool's
            // connections. The file stays in the kernel's page cache, so a smaller one costs
            // reads from memory, not from disk.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA cache_size = -512") }
            if !readOnly {
                // Made here with their modes, not by SQLite through the umask; SQLite gives
                // the -wal and -shm files the database file's mode.
                let folder = (path as NSString).deletingLastPathComponent
                if !folder.isEmpty { try FileModes.createFolders(folder, mode: FileModes.stateFolder) }
                try FileModes.createFile(path, mode: FileModes.state)
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            if readOnly {
                try pool.read { db in
                    let applied = try StoreSchema.migrator.appliedIdentifiers(db)
                    if applied.isEmpty { throw StoreError.notAStore(path, "it has no dploy schema") }
                    if try StoreSchema.migrator.hasBeenSuperseded(db) {
                        throw StoreError.notAStore(path, "it was written by a newer dploy")
                    }
                    if try !StoreSchema.migrator.hasCompletedMigrations(db) {
                        throw StoreError.notAStore(path, "it is from an older dploy; dploy apply, or the daemon when it starts, migrates it")
                    }
                }
            } else {
                try StoreSchema.migrator.migrate(pool)
            }
            bootReads = SQLiteReaders(path: path, configuration: configuration)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.unusable(path, String(describing: error))
        }
    }

    deinit {
        // Readers first, as GRDB's pool closes its own.
        bootReads.close()
    }

    /// SQLite's process-wide settings, made once, before the process's first connection.
    /// Memory statistics off: with them, every allocation of every connection takes one
    /// global mutex, and a boot answer's read waited on it behind BMC job workers' writes
    /// (perf during a 64-wide rollout: a second of the boot threads' 8 spent waiting there).
    /// Too late (a connection opened first, as some tests do) only costs that mutex again.
    private static let processSettings: Void = { _ = dploy_sqlite3_disable_memory_statistics() }()

    public func machines() throws -> [ObservedMachine] {
        try pool.read { db in
            let rows = try MachineRow.order(Column("mac")).fetchAll(db)
            let hardware = try HardwareRow.fetchAll(db).reduce(into: [String: HardwareRow]()) { $0[$1.mac] = $1 }
            return try rows.map { try $0.observed(hardware: hardware[$0.mac]) }
        }
    }

    public func machine(_ mac: MACAddress) throws -> ObservedMachine? {
        try pool.read { db in
            guard let row = try Self.machineRow(db, mac) else { return nil }
            return try row.observed(hardware: try HardwareRow.fetchOne(db, key: mac.description))
        }
    }

    public func macs(in state: MachineState) throws -> [MACAddress] {
        try pool.read { db in
            try String.fetchAll(db, MachineRow.select(Column("mac")).filter(Column("state") == state.rawValue)).compactMap(MACAddress.init)
        }
    }

    public func recordSeen(_ mac: MACAddress, address: String?, at: Date) throws {
        try pool.write { db in _ = try Self.touch(db, mac, address: address, at: at) }
    }

    public func recordHardware(_ mac: MACAddress, _ hardware: Hardware, at: Date) throws {
        try pool.write { db in
            var machine = try Self.touch(db, mac, address: nil, at: at)
            if machine.state == .rediscovering {
                machine.state = .discovered
                try machine.update(db)
            }
            // A report this one replaces that cannot be read is replaced all the same: there is
            // nothing to compare with, and refusing would keep the machine from ever reporting.
            let changes = StoreText.changes(hardware, since: try HardwareRow.fetchOne(db, key: mac.description))
            try HardwareRow(mac: mac.description, reportedAt: at, json: try StoreText.json(hardware),
                            changes: changes.isEmpty ? nil : changes.joined(separator: "\n"))
                .save(db)
            try EventRow.hardwareReported(mac, hardware, at: at).insert(db)
            if !changes.isEmpty { try EventRow.hardwareChanged(mac, changes, at: at).insert(db) }
        }
    }

    public func installStarted(_ mac: MACAddress, generation: Int, at: Date) throws {
        try pool.write { db in
            var machine = try Self.touch(db, mac, address: nil, at: at)
            machine.state = .installing
            try machine.update(db)
            try InstallRow(mac: mac.description, generation: generation, startedAt: at).insert(db)
            try EventRow.installStarted(mac, generation: generation, at: at).insert(db)
        }
    }

    @discardableResult
    public func installFinished(_ mac: MACAddress, generation: Int, at: Date) throws -> Bool {
        try pool.write { db in
            var machine = try Self.touch(db, mac, address: nil, at: at)
            if let installed = machine.installedGeneration, installed >= generation { return false }
            machine.state = .installed
            machine.installedGeneration = generation
            try machine.update(db)
            try db.execute(sql: """
                UPDATE install SET finishedAt = ? WHERE mac = ? AND generation = ? AND finishedAt IS NULL AND failedAt IS NULL
                """, arguments: [StoreDate.text(at), mac.description, generation])
            if db.changesCount == 0 {
                var attempt = InstallRow(mac: mac.description, generation: generation, startedAt: at)
                attempt.finishedAt = at
                try attempt.insert(db)
            }
            try EventRow.installFinished(mac, generation: generation, at: at).insert(db)
            return true
        }
    }

    public func installFailed(_ mac: MACAddress, generation: Int, reason: String, at: Date) throws {
        try pool.write { db in
            var machine = try Self.touch(db, mac, address: nil, at: at)
            machine.state = .failed
            try machine.update(db)
            try db.execute(sql: """
                UPDATE install SET failedAt = ?, failure = ? WHERE mac = ? AND generation = ? AND finishedAt IS NULL AND failedAt IS NULL
                """, arguments: [StoreDate.text(at), reason, mac.description, generation])
            try EventRow.installFailed(mac, generation: generation, reason: reason, at: at).insert(db)
        }
    }

    public func installAttempts(_ mac: MACAddress) throws -> [InstallAttempt] {
        try pool.read { db in try Self.installAttempts(db, mac) }
    }

    // The per-MAC reads a boot makes (`bootRecord`), as statements cached per connection:
    // every boot asks them, and building and preparing the SQL each time cost more than
    // running it.

    private static func machineRow(_ db: Database, _ mac: MACAddress) throws -> MachineRow? {
        try MachineRow.fetchOne(db.cachedStatement(sql: "SELECT * FROM machine WHERE mac = ?"), arguments: [mac.description])
    }

    private static func installAttempts(_ db: Database, _ mac: MACAddress) throws -> [InstallAttempt] {
        try InstallRow.fetchAll(db.cachedStatement(sql: "SELECT * FROM install WHERE mac = ? ORDER BY id"),
                                arguments: [mac.description]).compactMap(\.attempt)
    }

    public func bootRecord(_ mac: MACAddress, runOf actions: Set<TaskActionKind>, at now: Date) throws -> BootRecord {
        try bootReads.read { db in
            let machine = try Self.machineRow(db, mac)
            return BootRecord(state: machine?.state, installedGeneration: machine?.installedGeneration,
                              attempts: try Self.installAttempts(db, mac), run: try Self.runningTaskRun(db, mac: mac, actions: actions, at: now))
        }
    }

    public func installedGenerations() throws -> [MACAddress: Int] {
        try pool.read { db in
            try MachineRow.filter(Column("installedGeneration") != nil).fetchAll(db).reduce(into: [:]) { result, row in
                if let mac = MACAddress(row.mac), let generation = row.installedGeneration { result[mac] = generation }
            }
        }
    }

    public func latestAttempts() throws -> [MACAddress: InstallAttempt] {
        try pool.read { db in
            let rows = try InstallRow.fetchAll(db, sql: "SELECT * FROM install WHERE id IN (SELECT MAX(id) FROM install GROUP BY mac)")
            return rows.reduce(into: [:]) { result, row in
                if let attempt = row.attempt { result[attempt.mac] = attempt }
            }
        }
    }

    public func record(_ events: [MachineEvent]) throws {
        guard !events.isEmpty else { return }
        try pool.write { db in
            for event in events { try EventRow(event).insert(db) }
        }
    }

    public func events(for mac: MACAddress?, limit: Int) throws -> [MachineEvent] {
        try pool.read { db in
            var request = EventRow.order(Column("id").desc).limit(limit)
            if let mac { request = request.filter(Column("mac") == mac.description) }
            return try request.fetchAll(db).map {
                MachineEvent(mac: $0.mac.flatMap(MACAddress.init), at: $0.at, kind: $0.kind, message: $0.message)
            }
        }
    }

    public func latestEvents() throws -> [MACAddress: MachineEvent] {
        try pool.read { db in
            let rows = try EventRow.fetchAll(db, sql: """
                SELECT * FROM event WHERE id IN (SELECT MAX(id) FROM event WHERE mac IS NOT NULL GROUP BY mac)
                """)
            return rows.reduce(into: [:]) { latest, row in
                guard let mac = row.mac.flatMap(MACAddress.init) else { return }
                latest[mac] = MachineEvent(mac: mac, at: row.at, kind: row.kind, message: row.message)
            }
        }
    }

    @discardableResult
    public func prune(_ retention: StoreRetention, now: Date) throws -> Int {
        try pool.write { db in
            let eventCutoff = StoreDate.text(retention.eventCutoff(now))
            let readingCutoff = StoreDate.text(retention.bmcReadingCutoff(now))
            try db.execute(sql: "DELETE FROM event WHERE at < ?", arguments: [eventCutoff])
            var deleted = db.changesCount
            try db.execute(sql: "DELETE FROM event WHERE id <= (SELECT id FROM event ORDER BY id DESC LIMIT 1 OFFSET ?)",
                           arguments: [max(retention.maxEvents, 0)])
            deleted += db.changesCount
            try db.execute(sql: "DELETE FROM bmcReading WHERE readAt < ?", arguments: [readingCutoff])
            deleted += db.changesCount
            // A machine's BIOS attributes go with its reading.
            try db.execute(sql: "DELETE FROM biosAttributes WHERE mac NOT IN (SELECT mac FROM bmcReading)")
            deleted += db.changesCount
            // Finished BMC jobs go with the events of their time, except each machine's newest
            // per step: the planner reads it to know a flash was done or failed.
            try db.execute(sql: """
                DELETE FROM bmcJob WHERE state NOT IN ('queued', 'running') AND finishedAt < ?
                AND id NOT IN (SELECT max(id) FROM bmcJob GROUP BY machine, step)
                """, arguments: [eventCutoff])
            deleted += db.changesCount
            return deleted
        }
    }

    public func recordBMCReadings(_ readings: [BMCRecord]) throws {
        try pool.write { db in
            for reading in readings {
                try BMCReadingRow(reading).save(db)
                let mac = reading.mac.description
                guard let attributes = reading.biosAttributes?.text else {
                    try db.execute(sql: "DELETE FROM biosAttributes WHERE mac = ?", arguments: [mac])
                    continue
                }
                // Unchanged (as from one round to the next), the row is not written again.
                try db.execute(sql: """
                    INSERT INTO biosAttributes (mac, attributes) VALUES (?, ?)
                    ON CONFLICT (mac) DO UPDATE SET attributes = excluded.attributes WHERE attributes IS NOT excluded.attributes
                    """, arguments: [mac, attributes])
            }
        }
    }

    public func biosAttributes() throws -> [MACAddress: BIOSAttributeTypes] {
        try pool.read { db in try BIOSAttributesRow.read(BIOSAttributesRow.fetchAll(db)) }
    }

    public func bmcReadings() throws -> [MACAddress: BMCRecord] {
        try pool.read { db in
            try BMCReadingRow.fetchAll(db).reduce(into: [:]) { readings, row in
                let record = try row.record()
                readings[record.mac] = record
            }
        }
    }

    public func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { throw StoreError.backupExists(path) }
        do {
            let destination = try DatabaseQueue(path: path)
            try pool.backup(to: destination)
        } catch {
            throw StoreError.unusable(path, "the backup could not be written: \(error)")
        }
    }

    /// The machine's row, created on first sight, with its last-seen time moved on.
    static func touch(_ db: Database, _ mac: MACAddress, address: String?, at: Date) throws -> MachineRow {
        if var row = try MachineRow.fetchOne(db, key: mac.description) {
            row.lastSeen = max(row.lastSeen, at)
            if let address { row.address = address }
            try row.update(db)
            return row
        }
        let row = MachineRow(mac: mac.description, firstSeen: at, lastSeen: at, address: address,
                             state: .discovered, installedGeneration: nil)
        try row.insert(db)
        try EventRow.firstSeen(mac, address: address, at: at).insert(db)
        return row
    }
}

public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// The dploy.yaml key that names the store at `location`.
    static func setting(_ location: String) -> String {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") ? "store.postgres.url" : "store.sqlite"
    }

    case backupExists(String)
    case notAStore(String, String)
    case unusable(String, String)
    /// A row dploy cannot read: named, never skipped or read as something else.
    case corruptRow(_ table: String, _ key: String, _ reason: String)
    /// A statement PostgreSQL refused: its SQLSTATE code and message.
    case postgres(_ state: String, _ message: String)
    /// `dploy store copy` into a store that already holds rows.
    case notEmpty(String)
    /// A write only a leader may make, by a process that no longer leads.
    case notLeader(String)
    /// A copied store read back differs from its source: the first row that does.
    case copyDiffers(String)

    public var description: String {
        switch self {
        case .backupExists(let path): "\(path) already exists; a backup never overwrites a file"
        case .notAStore(let path, let reason): "the store \(path) (\(Self.setting(path)) in the config) is not usable: \(reason)"
        case .unusable(let path, let reason): "the store \(path) (\(Self.setting(path)) in the config) cannot be used: \(reason)"
        case .corruptRow(let table, let key, let reason):
            "the store's \(table) row '\(key)' cannot be read: \(reason); restore the store from a backup (dploy store backup) or delete the row"
        case .postgres(let state, let message): "PostgreSQL refused a statement (SQLSTATE \(state)): \(message)"
        case .notEmpty(let store): "\(store) already holds machines, events, BMC readings, task runs, BMC jobs or a shared secret; a copy goes into an empty store only"
        case .notLeader(let reason): "refused a write only the leader may make: \(reason)"
        case .copyDiffers(let row): "the copy read back differs from its source at the \(row); the destination is not to be used"
        }
    }
}
