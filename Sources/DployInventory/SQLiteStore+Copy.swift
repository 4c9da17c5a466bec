import DploySpec
import Foundation
import GRDB

/// Every row in and out, for `dploy store copy`.
extension SQLiteStore {
    public func snapshot() throws -> StoreSnapshot {
        try pool.read { db in
            StoreSnapshot(machines: try MachineRow.order(Column("mac")).fetchAll(db),
                          hardware: try HardwareRow.order(Column("mac")).fetchAll(db),
                          installs: try InstallRow.order(Column("id")).fetchAll(db),
                          events: try EventRow.order(Column("id")).fetchAll(db),
                          bmcReadings: try BMCReadingRow.order(Column("mac")).fetchAll(db),
                          biosAttributes: try BIOSAttributesRow.order(Column("mac")).fetchAll(db),
                          taskRuns: try TaskRunRow.order(Column("id")).fetchAll(db),
                          bmcJobs: try BMCJobRow.order(Column("id")).fetchAll(db),
                          rolloutResumes: try RolloutResumeRow.order(Column("name")).fetchAll(db),
                          sharedSecrets: try SharedSecretRow.order(Column("name")).fetchAll(db))
        }
    }

    public func load(_ snapshot: StoreSnapshot) throws {
        try pool.write { db in
            for table in ["machine", "event", "bmcReading", "biosAttributes", "taskRun", "bmcJob", "sharedSecret"]
            where try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 > 0 {
                throw StoreError.notEmpty(path)
            }
            for row in snapshot.machines { try row.insert(db) }
            for row in snapshot.hardware { try row.insert(db) }
            for row in snapshot.installs { try row.insert(db) }
            for row in snapshot.events { try row.insert(db) }
            for row in snapshot.bmcReadings { try row.insert(db) }
            for row in snapshot.biosAttributes { try row.insert(db) }
            for row in snapshot.taskRuns { try row.insert(db) }
            for row in snapshot.bmcJobs { try row.insert(db) }
            for row in snapshot.rolloutResumes { try row.insert(db) }
            for row in snapshot.sharedSecrets { try row.insert(db) }
        }
    }

    /// The secret `name` the store's controllers share: `proposal` when none is stored yet,
    /// else the one stored first. An SQLite controller keeps its callback key in
    /// STATE/callback.key; this is what a PostgreSQL store's backup or copy holds.
    public func sharedSecret(_ name: String, proposing proposal: [UInt8]) throws -> [UInt8] {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO sharedSecret (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                           arguments: [name, Hex.encode(proposal)])
            guard let text = try String.fetchOne(db, sql: "SELECT value FROM sharedSecret WHERE name = ?", arguments: [name]),
                  let bytes = Hex.decode(text), bytes.count == proposal.count else {
                throw StoreError.corruptRow("sharedSecret", name, "not \(proposal.count) bytes in hex")
            }
            return bytes
        }
    }
}

/// One shared secret (`sharedSecret`, PostgreSQL's `shared_secret`): its name and its value in hex.
struct SharedSecretRow: StoreRow {
    static let databaseTableName = "sharedSecret"
    var name: String
    var value: String
}
