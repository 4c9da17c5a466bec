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
            snapshot.biosAttributes = try connection.execute("SELECT * FROM bios_attributes ORDER BY mac").all.map(Self.biosAttributesRow)
            snapshot.taskRuns = try connection.execute("SELECT * FROM task_run ORDER BY id").all.map { row in
                var run = TaskRunRow(try Self.taskRun(row))
                run.id = row["id"].flatMap { Int64($0) }
                return run
            }
            snapshot.bmcJobs = try connection.execute("SELECT * FROM bmc_job ORDER BY id").all.map { BMCJobRow(try Self.bmcJob($0)) }
            snapshot.rolloutResumes = try connection.execute("SELECT * FROM rollout_resume ORDER BY name").all.map { row in
                RolloutResumeRow(name: try row.required("name", table: "rollout_resume", key: row["name"] ?? ""),
                                 resumedAt: try row.requiredDate("resumed_at", table: "rollout_resume", key: row["name"] ?? ""))
            }
            snapshot.sharedSecrets = try connection.execute("SELECT * FROM shared_secret ORDER BY name").all.map { row in
                SharedSecretRow(name: try row.required("name", table: "shared_secret", key: row["name"] ?? ""),
                                value: try row.required("value", table: "shared_secret", key: row["name"] ?? ""))
            }
            return snapshot
        }
    }

    public func load(_ snapshot: StoreSnapshot) throws {
        try pool.transaction { connection in
            let rows = try connection.execute("""
                SELECT (SELECT COUNT(*) FROM machine) + (SELECT COUNT(*) FROM event) + (SELECT COUNT(*) FROM bmc_reading) + (SELECT COUNT(*) FROM bios_attributes)
                     + (SELECT COUNT(*) FROM task_run) + (SELECT COUNT(*) FROM bmc_job) + (SELECT COUNT(*) FROM shared_secret) AS rows
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
            for row in snapshot.biosAttributes {
                try connection.execute("INSERT INTO bios_attributes (mac, attributes) VALUES ($1, $2)", [row.mac, row.attributes])
            }
            for row in snapshot.taskRuns {
                try connection.execute("""
                    INSERT INTO task_run (id, task, revision, machine, mac, action, state, started_at, finished_at, deadline,
                                          exit_code, output, error) OVERRIDING SYSTEM VALUE
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                    """, [row.id, row.task, row.revision, row.machine, row.mac, row.action.rawValue, row.state.rawValue,
                          row.startedAt, row.finishedAt, row.deadline, row.exitCode, row.output, row.error])
            }
            for row in snapshot.bmcJobs {
                try connection.execute("""
                    INSERT INTO bmc_job (id, machine, mac, kind, step, payload, state, created_at, started_at, submitted_at,
                                         finished_at, tracking, status, percent, error, site) OVERRIDING SYSTEM VALUE
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                    """, [row.id, row.machine, row.mac, row.kind.rawValue, row.step, row.payload, row.state.rawValue, row.createdAt,
                          row.startedAt, row.submittedAt, row.finishedAt, row.tracking, row.status, row.percent, row.error, row.site])
            }
            for row in snapshot.rolloutResumes {
                try connection.execute("INSERT INTO rollout_resume (name, resumed_at) VALUES ($1, $2)", [row.name, row.resumedAt])
            }
            for row in snapshot.sharedSecrets {
                try connection.execute("INSERT INTO shared_secret (name, value) VALUES ($1, $2)", [row.name, row.value])
            }
            for table in ["install", "event", "task_run", "bmc_job"] {
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
