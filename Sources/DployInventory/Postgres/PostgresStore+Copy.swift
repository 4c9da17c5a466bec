import Foundation

/// Every row in and out, for `dploy store copy`. Ids are kept, so events stay in order, and
/// each identity column is moved past the highest id copied.
extension PostgresStore {
    public func snapshot() throws -> StoreSnapshot {
        try pool.transaction { connection in
            // One snapshot of the database for all six reads, as SQLite's read transaction is.
            try connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            var snapshot = StoreSnapshot()
            snapshot.machines = try connection.execute("SELECT * FROM machine ORDER BY mac").all.map(Self.machineRow)
            snapshot.hardware = try connection.execute("SELECT * FROM hardware ORDER BY mac").all.map(Self.hardwareRow)
            snapshot.installs = try connection.execute("SELECT * FROM install ORDER BY id").all.map(Self.installRow)
            snapshot.events = try connection.execute("SELECT * FROM event ORDER BY id").all.map { row in
                var event = EventRow(mac: row["mac"], at: try row.requiredDate("at", table: "event", key: row["id"] ?? ""),
                                     kind: row["kind"] ?? "", message: row["message"] ?? "")
                event.id = row["id"].flatMap { Int64($0) }
                return event
            }
            snapshot.bmcReadings = try connection.execute("SELECT * FROM bmc_reading ORDER BY mac").all.map(Self.bmcReadingRow)
            snapshot.taskRuns = try connection.execute("SELECT * FROM task_run ORDER BY id").all.map { row in
                var run = TaskRunRow(try Self.taskRun(row))
                run.id = row["id"].flatMap { Int64($0) }
                return run
            }
            return snapshot
        }
    }

    public func load(_ snapshot: StoreSnapshot) throws {
        try pool.transaction { connection in
            let rows = try connection.execute("""
                SELECT (SELECT COUNT(*) FROM machine) + (SELECT COUNT(*) FROM event) + (SELECT COUNT(*) FROM bmc_reading)
                     + (SELECT COUNT(*) FROM task_run) AS rows
                """).first?.int("rows") ?? 0
            guard rows == 0 else { throw StoreError.notEmpty(location) }
            for row in snapshot.machines {
                try connection.execute("""
                    INSERT INTO machine (mac, first_seen, last_seen, address, state, installed_generation) VALUES ($1, $2, $3, $4, $5, $6)
                    """, [row.mac, row.firstSeen, row.lastSeen, row.address, row.state.rawValue, row.installedGeneration])
            }
            for row in snapshot.hardware {
                try connection.execute("INSERT INTO hardware (mac, reported_at, json, changes) VALUES ($1, $2, $3, $4)",
                                       [row.mac, row.reportedAt, row.json, row.changes])
            }
            for row in snapshot.installs {
                try connection.execute("""
                    INSERT INTO install (id, mac, generation, started_at, finished_at, failed_at, failure) OVERRIDING SYSTEM VALUE
                    VALUES ($1, $2, $3, $4, $5, $6, $7)
                    """, [row.id, row.mac, row.generation, row.startedAt, row.finishedAt, row.failedAt, row.failure])
            }
            for row in snapshot.events {
                try connection.execute("INSERT INTO event (id, mac, at, kind, message) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5)",
                                       [row.id, row.mac, row.at, row.kind, row.message])
            }
            for row in snapshot.bmcReadings {
                try connection.execute("""
                    INSERT INTO bmc_reading (mac, read_at, power, health, model, serial, bios_version, bmc_firmware, error, firmware,
                                             smart_array_controllers)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    """, [row.mac, row.readAt, row.power, row.health, row.model, row.serial, row.biosVersion, row.bmcFirmware,
                          row.error, row.firmware, row.smartArrayControllers])
            }
            for row in snapshot.taskRuns {
                try connection.execute("""
                    INSERT INTO task_run (id, task, revision, machine, mac, action, state, started_at, finished_at, deadline,
                                          exit_code, output, error) OVERRIDING SYSTEM VALUE
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                    """, [row.id, row.task, row.revision, row.machine, row.mac, row.action.rawValue, row.state.rawValue,
                          row.startedAt, row.finishedAt, row.deadline, row.exitCode, row.output, row.error])
            }
            for table in ["install", "event", "task_run"] {
                try connection.execute("""
                    SELECT setval(pg_get_serial_sequence('\(table)', 'id'), GREATEST((SELECT MAX(id) FROM \(table)), 1),
                                  (SELECT MAX(id) FROM \(table)) IS NOT NULL)
                    """)
            }
        }
    }

    static func installRow(_ row: PostgresRow) throws -> InstallRow {
        let attempt = try attempt(row)
        var install = InstallRow(mac: attempt.mac.description, generation: attempt.generation, startedAt: attempt.startedAt)
        install.id = row["id"].flatMap { Int64($0) }
        install.finishedAt = attempt.finishedAt
        install.failedAt = attempt.failedAt
        install.failure = attempt.failure
        return install
    }
}
