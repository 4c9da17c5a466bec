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
                          taskRuns: try TaskRunRow.order(Column("id")).fetchAll(db))
        }
    }

    public func load(_ snapshot: StoreSnapshot) throws {
        try pool.write { db in
            for table in ["machine", "event", "bmcReading", "taskRun"]
            where try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 > 0 {
                throw StoreError.notEmpty(path)
            }
            for row in snapshot.machines { try row.insert(db) }
            for row in snapshot.hardware { try row.insert(db) }
            for row in snapshot.installs { try row.insert(db) }
            for row in snapshot.events { try row.insert(db) }
            for row in snapshot.bmcReadings { try row.insert(db) }
            for row in snapshot.taskRuns { try row.insert(db) }
        }
    }
}
