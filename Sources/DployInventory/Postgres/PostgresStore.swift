import DploySpec
import Foundation
import Synchronization

/// The store several controllers share: PostgreSQL through libpq. It keeps what
/// `SQLiteStore` keeps, with the same events and the same errors; every change that spans
/// rows is one transaction, and what two controllers may race for (a machine's first
/// sighting, a task run's start) is decided by a key, not by reading first.
public final class PostgresStore: Store {
    let pool: PostgresPool
    public let settings: PostgresSettings
    public var location: String { settings.redactedURL }
    /// Set by this process's `PostgresLeaderLease`: whether it may make the writes only a leader may.
    let fence = Mutex(LeaderFence.unfenced)

    /// Connects and, unless `readOnly`, migrates. A read-only open (`plan`, `machines`)
    /// refuses a database that is not a dploy store of this version and changes nothing.
    public init(_ settings: PostgresSettings, readOnly: Bool = false) throws {
        self.settings = settings
        pool = PostgresPool(settings)
        try pool.withConnection { connection in
            if readOnly { try PostgresSchema.check(connection) } else { try PostgresSchema.migrate(connection) }
        }
    }

    /// Whether the database holds dploy's tables: a store that `plan` and `machines` can read.
    public static func hasSchema(_ settings: PostgresSettings) throws -> Bool {
        try PostgresConnection(settings).execute("SELECT to_regclass('dploy_migration') IS NOT NULL AS present").first?["present"] == "t"
    }

    // MARK: Machines

    public func machines() throws -> [ObservedMachine] {
        try pool.withConnection { connection in
            let hardware = try connection.execute("SELECT * FROM hardware").all.reduce(into: [String: HardwareRow]()) {
                let row = try Self.hardwareRow($1)
                $0[row.mac] = row
            }
            return try connection.execute("SELECT * FROM machine ORDER BY mac").all.map { row in
                let machine = try Self.machineRow(row)
                return try machine.observed(hardware: hardware[machine.mac])
            }
        }
    }

    public func machine(_ mac: MACAddress) throws -> ObservedMachine? {
        try pool.withConnection { connection in
            guard let row = try Self.machineRow(on: connection, mac) else { return nil }
            let hardware = try connection.execute("SELECT * FROM hardware WHERE mac = $1", [mac.description]).first
            return try row.observed(hardware: try hardware.map(Self.hardwareRow))
        }
    }

    private static func machineRow(on connection: PostgresConnection, _ mac: MACAddress) throws -> MachineRow? {
        try connection.execute("SELECT * FROM machine WHERE mac = $1", [mac.description]).first.map(machineRow)
    }

    public func macs(in state: MachineState) throws -> [MACAddress] {
        try pool.withConnection { connection in
            try connection.execute("SELECT mac FROM machine WHERE state = $1", [state.rawValue]).all.compactMap { $0["mac"].flatMap(MACAddress.init) }
        }
    }

    public func recordSeen(_ mac: MACAddress, address: String?, at: Date) throws {
        try pool.transaction { _ = try Self.touch($0, mac, address: address, at: at) }
    }

    public func recordHardware(_ mac: MACAddress, _ hardware: Hardware, at: Date) throws {
        try pool.transaction { connection in
            let machine = try Self.touch(connection, mac, address: nil, at: at)
            if machine.state == .rediscovering { try Self.setState(connection, mac, .discovered) }
            // Locked, so two reports at once compare against each other, not the same old one.
            let earlier = try connection.execute("SELECT * FROM hardware WHERE mac = $1 FOR UPDATE", [mac.description]).first
            let changes = StoreText.changes(hardware, since: earlier.flatMap { try? Self.hardwareRow($0) })
            try connection.execute("""
                INSERT INTO hardware (mac, reported_at, json, changes) VALUES ($1, $2, $3, $4)
                ON CONFLICT (mac) DO UPDATE SET reported_at = EXCLUDED.reported_at, json = EXCLUDED.json, changes = EXCLUDED.changes
                """, [mac.description, at, try StoreText.json(hardware), changes.isEmpty ? nil : changes.joined(separator: "\n")])
            try Self.insert(connection, .hardwareReported(mac, hardware, at: at))
            if !changes.isEmpty { try Self.insert(connection, .hardwareChanged(mac, changes, at: at)) }
        }
    }

    // MARK: Installs

    public func installStarted(_ mac: MACAddress, generation: Int, at: Date) throws {
        try pool.transaction { connection in
            _ = try Self.touch(connection, mac, address: nil, at: at)
            try Self.setState(connection, mac, .installing)
            try connection.execute("INSERT INTO install (mac, generation, started_at) VALUES ($1, $2, $3)", [mac.description, generation, at])
            try Self.insert(connection, .installStarted(mac, generation: generation, at: at))
        }
    }

    @discardableResult
    public func installFinished(_ mac: MACAddress, generation: Int, at: Date) throws -> Bool {
        try pool.transaction { connection in
            _ = try Self.touch(connection, mac, address: nil, at: at)
            // Decided by the row: of two callbacks at once (to two controllers), the second
            // waits for the first and then finds the generation installed.
            let moved = try connection.execute("""
                UPDATE machine SET state = 'installed', installed_generation = $2
                WHERE mac = $1 AND (installed_generation IS NULL OR installed_generation < $2)
                RETURNING mac
                """, [mac.description, generation])
            guard moved.first != nil else { return false }
            let closed = try connection.execute("""
                UPDATE install SET finished_at = $3
                WHERE mac = $1 AND generation = $2 AND finished_at IS NULL AND failed_at IS NULL
                """, [mac.description, generation, at])
            if closed.affected == 0 {
                try connection.execute("INSERT INTO install (mac, generation, started_at, finished_at) VALUES ($1, $2, $3, $3)",
                                       [mac.description, generation, at])
            }
            try Self.insert(connection, .installFinished(mac, generation: generation, at: at))
            return true
        }
    }

    public func installFailed(_ mac: MACAddress, generation: Int, reason: String, at: Date) throws {
        try pool.transaction { connection in
            _ = try Self.touch(connection, mac, address: nil, at: at)
            try Self.setState(connection, mac, .failed)
            try connection.execute("""
                UPDATE install SET failed_at = $3, failure = $4
                WHERE mac = $1 AND generation = $2 AND finished_at IS NULL AND failed_at IS NULL
                """, [mac.description, generation, at, reason])
            try Self.insert(connection, .installFailed(mac, generation: generation, reason: reason, at: at))
        }
    }

    public func installAttempts(_ mac: MACAddress) throws -> [InstallAttempt] {
        try pool.withConnection { try Self.installAttempts(on: $0, mac) }
    }

    private static func installAttempts(on connection: PostgresConnection, _ mac: MACAddress) throws -> [InstallAttempt] {
        try connection.execute("SELECT * FROM install WHERE mac = $1 ORDER BY id", [mac.description]).all.map(attempt)
    }

    public func bootRecord(_ mac: MACAddress, runOf actions: Set<TaskActionKind>, at now: Date) throws -> BootRecord {
        try pool.withConnection { connection in
            let machine = try Self.machineRow(on: connection, mac)
            let run = actions.isEmpty ? nil : try Self.runningTaskRun(on: connection, mac: mac, actions: actions, at: now)
            return BootRecord(state: machine?.state, installedGeneration: machine?.installedGeneration,
                              attempts: try Self.installAttempts(on: connection, mac), run: run)
        }
    }

    public func installedGenerations() throws -> [MACAddress: Int] {
        try pool.withConnection { connection in
            try connection.execute("SELECT mac, installed_generation FROM machine WHERE installed_generation IS NOT NULL").all
                .reduce(into: [:]) { result, row in
                    if let mac = row["mac"].flatMap(MACAddress.init), let generation = row.int("installed_generation") { result[mac] = generation }
                }
        }
    }

    public func latestAttempts() throws -> [MACAddress: InstallAttempt] {
        try pool.withConnection { connection in
            try connection.execute("SELECT DISTINCT ON (mac) * FROM install ORDER BY mac, id DESC").all.reduce(into: [:]) { result, row in
                let attempt = try Self.attempt(row)
                result[attempt.mac] = attempt
            }
        }
    }

    // MARK: Events

    public func record(_ events: [MachineEvent]) throws {
        guard !events.isEmpty else { return }
        // One transaction, one commit: a first apply to 10,000 machines records 10,000 events.
        try pool.transaction { connection in
            for event in events { try Self.insert(connection, EventRow(event)) }
        }
    }

    public func events(for mac: MACAddress?, limit: Int) throws -> [MachineEvent] {
        try pool.withConnection { connection in
            let rows = if let mac {
                try connection.execute("SELECT * FROM event WHERE mac = $1 ORDER BY id DESC LIMIT $2", [mac.description, limit])
            } else {
                try connection.execute("SELECT * FROM event ORDER BY id DESC LIMIT $1", [limit])
            }
            return try rows.all.map(Self.event)
        }
    }

    public func latestEvents() throws -> [MACAddress: MachineEvent] {
        try pool.withConnection { connection in
            try connection.execute("SELECT DISTINCT ON (mac) * FROM event WHERE mac IS NOT NULL ORDER BY mac, id DESC").all
                .reduce(into: [:]) { latest, row in
                    let event = try Self.event(row)
                    if let mac = event.mac { latest[mac] = event }
                }
        }
    }

    @discardableResult
    public func prune(_ retention: StoreRetention, now: Date) throws -> Int {
        try pool.transaction { connection in
            try checkFence(connection)
            var deleted = try connection.execute("DELETE FROM event WHERE at < $1", [retention.eventCutoff(now)]).affected
            deleted += try connection.execute("DELETE FROM event WHERE id <= (SELECT id FROM event ORDER BY id DESC LIMIT 1 OFFSET $1)",
                                              [max(retention.maxEvents, 0)]).affected
            deleted += try connection.execute("DELETE FROM bmc_reading WHERE read_at < $1", [retention.bmcReadingCutoff(now)]).affected
            // A machine's BIOS attributes go with its reading.
            deleted += try connection.execute("DELETE FROM bios_attributes WHERE mac NOT IN (SELECT mac FROM bmc_reading)").affected
            // Finished BMC jobs go with the events of their time, except each machine's newest
            // per step: the planner reads it to know a flash was done or failed.
            deleted += try connection.execute("""
                DELETE FROM bmc_job WHERE state NOT IN ('queued', 'running') AND finished_at < $1
                AND id NOT IN (SELECT max(id) FROM bmc_job GROUP BY machine, step)
                """, [retention.eventCutoff(now)]).affected
            return deleted
        }
    }

    // MARK: BMC readings

    public func recordBMCReadings(_ readings: [BMCRecord]) throws {
        guard !readings.isEmpty else { return }
        try pool.transaction { connection in
            for reading in readings.map(BMCReadingRow.init) {
                try connection.execute("""
                    INSERT INTO bmc_reading (mac, read_at, power, health, model, serial, bios_version, bmc_firmware, error, firmware,
                                             smart_array_controllers)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    ON CONFLICT (mac) DO UPDATE SET read_at = EXCLUDED.read_at, power = EXCLUDED.power, health = EXCLUDED.health,
                        model = EXCLUDED.model, serial = EXCLUDED.serial, bios_version = EXCLUDED.bios_version,
                        bmc_firmware = EXCLUDED.bmc_firmware, error = EXCLUDED.error, firmware = EXCLUDED.firmware,
                        smart_array_controllers = EXCLUDED.smart_array_controllers
                    """, [reading.mac, reading.readAt, reading.power, reading.health, reading.model, reading.serial,
                          reading.biosVersion, reading.bmcFirmware, reading.error, reading.firmware, reading.smartArrayControllers])
            }
            for reading in readings {
                guard let attributes = reading.biosAttributes?.text else {
                    try connection.execute("DELETE FROM bios_attributes WHERE mac = $1", [reading.mac.description])
                    continue
                }
                // Unchanged (as from one round to the next), the row is not written again.
                try connection.execute("""
                    INSERT INTO bios_attributes (mac, attributes) VALUES ($1, $2)
                    ON CONFLICT (mac) DO UPDATE SET attributes = EXCLUDED.attributes
                    WHERE bios_attributes.attributes IS DISTINCT FROM EXCLUDED.attributes
                    """, [reading.mac.description, attributes])
            }
        }
    }

    public func biosAttributes() throws -> [MACAddress: BIOSAttributeTypes] {
        try pool.withConnection { connection in
            try BIOSAttributesRow.read(try connection.execute("SELECT mac, attributes FROM bios_attributes").all.map(Self.biosAttributesRow))
        }
    }

    public func bmcReadings() throws -> [MACAddress: BMCRecord] {
        try pool.withConnection { connection in
            try connection.execute("SELECT * FROM bmc_reading").all.reduce(into: [:]) { readings, row in
                let record = try Self.bmcReadingRow(row).record()
                readings[record.mac] = record
            }
        }
    }

    // MARK: Rediscovery and backup

    public func forgetMachine(_ mac: MACAddress, reason: String, at: Date) throws {
        try pool.transaction { connection in
            try checkFence(connection)
            _ = try Self.touch(connection, mac, address: nil, at: at)
            try connection.execute("UPDATE machine SET state = 'rediscovering', installed_generation = NULL WHERE mac = $1", [mac.description])
            try connection.execute("DELETE FROM hardware WHERE mac = $1", [mac.description])
            try connection.execute("DELETE FROM install WHERE mac = $1", [mac.description])
            try Self.insert(connection, .forgotten(mac, reason: reason, at: at))
        }
    }

    /// A PostgreSQL store's backup is an embedded store: one SQLite file holding every row,
    /// which `dploy store copy` can load back into any store.
    public func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { throw StoreError.backupExists(path) }
        do {
            try StoreCopy.copy(from: self, to: try SQLiteStore(path: path))
        } catch {
            // Half a backup is no backup, and would block the next one to the same file.
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            throw error
        }
    }

    // MARK: Shared secrets

    /// The secret `name` all controllers of the store share: `proposal` when no controller
    /// stored one yet, else the one stored first. One statement, so two controllers
    /// starting at once agree.
    public func sharedSecret(_ name: String, proposing proposal: [UInt8]) throws -> [UInt8] {
        try pool.withConnection { connection in
            // The statement's snapshot predates a proposal that won while it waited on the key:
            // then it returns nothing, and the stored value is read again.
            let row = try connection.execute("""
                WITH proposed AS (
                    INSERT INTO shared_secret (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value)
                SELECT value FROM proposed UNION ALL SELECT value FROM shared_secret WHERE name = $1
                """, [name, Hex.encode(proposal)]).first
                ?? connection.execute("SELECT value FROM shared_secret WHERE name = $1", [name]).first
            guard let text = row?["value"], let bytes = Hex.decode(text), bytes.count == proposal.count else {
                throw StoreError.corruptRow("shared_secret", name, "not \(proposal.count) bytes in hex")
            }
            return bytes
        }
    }

    // MARK: Fencing

    /// Refuses, inside the caller's transaction, a write only a leader may make, unless this
    /// process leads under a term that is still the site's and unexpired. It locks the
    /// leader row until the transaction ends, so a takeover waits for the write to land.
    /// With `site`, the write is that site's: leading another site does not allow it.
    func checkFence(_ connection: PostgresConnection, site written: String? = nil) throws {
        switch fence.withLock({ $0 }) {
        case .unfenced:
            return
        case .follows:
            throw StoreError.notLeader("this dploy does not lead its site")
        case .leads(let site, let term):
            if let written, written != site {
                throw StoreError.notLeader("this dploy leads site '\(site)', not '\(written)'")
            }
            let current = try connection.execute("""
                SELECT term FROM leader
                WHERE site = $1 AND term = $2 AND expires_at > (clock_timestamp() AT TIME ZONE 'UTC')::timestamp(3)
                FOR SHARE
                """, [site, term])
            if current.first == nil {
                fence.withLock { $0 = .follows }
                throw StoreError.notLeader("its lead of site '\(site)' (term \(term)) has ended; another dploy leads")
            }
        }
    }

    // MARK: Rows

    /// The machine's row, created on first sight with its event, its last-seen time moved
    /// on. One statement, so two controllers seeing a new machine at once make one row and one event.
    static func touch(_ connection: PostgresConnection, _ mac: MACAddress, address: String?, at: Date) throws -> MachineRow {
        let result = try connection.execute("""
            INSERT INTO machine (mac, first_seen, last_seen, address, state) VALUES ($1, $2, $2, $3, 'discovered')
            ON CONFLICT (mac) DO UPDATE SET last_seen = GREATEST(machine.last_seen, EXCLUDED.last_seen),
                address = COALESCE(EXCLUDED.address, machine.address)
            RETURNING *, (xmax = 0) AS inserted
            """, [mac.description, at, address])
        guard let row = result.first else { throw StoreError.corruptRow("machine", mac.description, "it could not be written") }
        if row["inserted"] == "t" { try insert(connection, .firstSeen(mac, address: address, at: at)) }
        return try machineRow(row)
    }

    static func setState(_ connection: PostgresConnection, _ mac: MACAddress, _ state: MachineState) throws {
        try connection.execute("UPDATE machine SET state = $2 WHERE mac = $1", [mac.description, state.rawValue])
    }

    static func insert(_ connection: PostgresConnection, _ event: EventRow) throws {
        try connection.execute("INSERT INTO event (mac, at, kind, message) VALUES ($1, $2, $3, $4)",
                               [event.mac, event.at, event.kind, event.message])
    }

    static func machineRow(_ row: PostgresRow) throws -> MachineRow {
        let mac = row["mac"] ?? ""
        return MachineRow(mac: mac, firstSeen: try row.requiredDate("first_seen", table: "machine", key: mac),
                          lastSeen: try row.requiredDate("last_seen", table: "machine", key: mac), address: row["address"],
                          state: try known(MachineState.self, row["state"], column: "state", table: "machine", key: mac),
                          installedGeneration: row.int("installed_generation"))
    }

    static func hardwareRow(_ row: PostgresRow) throws -> HardwareRow {
        let mac = row["mac"] ?? ""
        return HardwareRow(mac: mac, reportedAt: try row.requiredDate("reported_at", table: "hardware", key: mac),
                           json: try row.required("json", table: "hardware", key: mac), changes: row["changes"])
    }

    static func bmcReadingRow(_ row: PostgresRow) throws -> BMCReadingRow {
        let mac = row["mac"] ?? ""
        return BMCReadingRow(mac: mac, readAt: try row.requiredDate("read_at", table: "bmcReading", key: mac), power: row["power"],
                             health: row["health"], model: row["model"], serial: row["serial"], biosVersion: row["bios_version"],
                             bmcFirmware: row["bmc_firmware"], error: row["error"], firmware: row["firmware"],
                             smartArrayControllers: row.int("smart_array_controllers"))
    }

    static func biosAttributesRow(_ row: PostgresRow) throws -> BIOSAttributesRow {
        let mac = row["mac"] ?? ""
        return BIOSAttributesRow(mac: mac, attributes: try row.required("attributes", table: "bios_attributes", key: mac))
    }

    static func attempt(_ row: PostgresRow) throws -> InstallAttempt {
        let key = row["id"] ?? ""
        guard let mac = row["mac"].flatMap(MACAddress.init) else { throw StoreError.corruptRow("install", key, "not a MAC address") }
        return InstallAttempt(mac: mac, generation: row.int("generation") ?? 0,
                              startedAt: try row.requiredDate("started_at", table: "install", key: key),
                              finishedAt: row.date("finished_at"), failedAt: row.date("failed_at"), failure: row["failure"])
    }

    static func event(_ row: PostgresRow) throws -> MachineEvent {
        let key = row["id"] ?? ""
        return MachineEvent(mac: row["mac"].flatMap(MACAddress.init), at: try row.requiredDate("at", table: "event", key: key),
                            kind: row["kind"] ?? "", message: row["message"] ?? "")
    }

    /// A stored raw value this dploy knows; one it does not (a newer dploy, a hand edit)
    /// is an error naming it, never read as some other value.
    static func known<Value: RawRepresentable>(_ type: Value.Type, _ text: String?, column: String, table: String,
                                               key: String) throws -> Value where Value.RawValue == String {
        guard let text, let value = Value(rawValue: text) else {
            throw StoreError.corruptRow(table, key, "\(column) '\(text ?? "NULL")' is not one this dploy knows")
        }
        return value
    }
}
