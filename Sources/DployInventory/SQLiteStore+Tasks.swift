import DploySpec
import Foundation
import GRDB

/// Task runs and rediscovery in the embedded store.
extension SQLiteStore {
    public func startTaskRun(_ run: TaskRun) throws -> Bool {
        try pool.write { db in
            let key = run.key
            let exists = try TaskRunRow.filter(Column("task") == key.task && Column("revision") == key.revision
                                                && Column("machine") == key.machine).fetchCount(db) > 0
            if exists { return false }
            try TaskRunRow(run).insert(db)
            if let mac = run.mac { try EventRow.taskStarted(run, mac: mac).insert(db) }
            return true
        }
    }

    public func finishTaskRun(_ key: TaskRunKey, _ outcome: TaskRunOutcome, at: Date) throws -> Bool {
        try pool.write { db in
            guard var row = try Self.runningRow(db, key) else { return false }
            row.state = outcome.state
            row.finishedAt = at
            row.exitCode = outcome.exitCode
            if let output = outcome.output { row.output = output }
            row.error = outcome.error
            try row.update(db)
            if let mac = row.mac { try EventRow.taskFinished(key, mac: mac, outcome, at: at).insert(db) }
            return true
        }
    }

    public func updateTaskRunOutput(_ key: TaskRunKey, _ output: String) throws {
        try pool.write { db in
            guard var row = try Self.runningRow(db, key) else { return }
            row.output = output
            try row.update(db)
        }
    }

    public func taskRunStates() throws -> [TaskRunKey: TaskRunState] {
        try pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT task, revision, machine, state FROM taskRun")
            return try rows.reduce(into: [:]) { states, row in
                states[TaskRunKey(task: row["task"], revision: row["revision"], machine: row["machine"])] =
                    try row.decode(TaskRunState.self, forColumn: "state")
            }
        }
    }

    public func taskRuns(task: String?) throws -> [TaskRun] {
        try pool.read { db in
            var request = TaskRunRow.order(Column("task"), Column("id"))
            if let task { request = request.filter(Column("task") == task) }
            return try request.fetchAll(db).map(\.run)
        }
    }

    public func runningTaskRun(mac: MACAddress, actions: Set<TaskActionKind>, at now: Date) throws -> TaskRun? {
        try pool.read { db in try Self.runningTaskRun(db, mac: mac, actions: actions, at: now) }
    }

    /// The newest running run of `actions` on `mac` at `now`: the condition of `running`, as
    /// a statement cached per connection, since every boot asks it (`bootRecord`).
    static func runningTaskRun(_ db: Database, mac: MACAddress, actions: Set<TaskActionKind>, at now: Date) throws -> TaskRun? {
        guard !actions.isEmpty else { return nil }
        let names = actions.map(\.rawValue).sorted()
        let sql = """
            SELECT * FROM taskRun WHERE mac = ? AND state = ? AND action IN (\(names.map { _ in "?" }.joined(separator: ", ")))
            AND (deadline IS NULL OR deadline > ?) ORDER BY id DESC LIMIT 1
            """
        return try TaskRunRow.fetchOne(db.cachedStatement(sql: sql),
                                       arguments: StatementArguments([mac.description, TaskRunState.running.rawValue] + names
                                                                     + [StoreDate.text(now)]))?.run
    }

    public func runningTaskRuns(actions: Set<TaskActionKind>, at now: Date) throws -> [TaskRun] {
        try pool.read { db in try Self.running(actions, at: now).fetchAll(db).map(\.run) }
    }

    private static func running(_ actions: Set<TaskActionKind>, at now: Date) -> QueryInterfaceRequest<TaskRunRow> {
        TaskRunRow.filter(Column("state") == TaskRunState.running && actions.contains(Column("action"))
                          && (Column("deadline") == nil || Column("deadline") > StoreDate.text(now)))
    }

    public func taskRuns(mac: MACAddress) throws -> [TaskRun] {
        try pool.read { db in
            try TaskRunRow.filter(Column("mac") == mac.description).order(Column("id").desc).fetchAll(db).map(\.run)
        }
    }

    public func failOverdueTaskRuns(at now: Date) throws -> [TaskRun] {
        let overdue = try pool.read { db in
            try TaskRunRow.filter(Column("state") == TaskRunState.running && Column("deadline") != nil
                                  && Column("deadline") < StoreDate.text(now)).fetchAll(db).map(\.run)
        }
        return try overdue.compactMap { run in try finish(run, .failed(StoreText.timedOut(run)), at: now) }
    }

    public func failInterruptedTaskRuns(actions: Set<TaskActionKind>, machines: Set<String>?, at now: Date) throws -> [TaskRun] {
        let interrupted = try pool.read { db in
            try TaskRunRow.filter(Column("state") == TaskRunState.running && actions.contains(Column("action")))
                .fetchAll(db).map(\.run).filter { machines?.contains($0.key.machine) ?? true }
        }
        return try interrupted.compactMap { run in
            try finish(run, .failed(StoreText.interrupted), at: now)
        }
    }

    public func forgetMachine(_ mac: MACAddress, reason: String, at: Date) throws {
        try pool.write { db in
            var machine = try Self.touch(db, mac, address: nil, at: at)
            machine.state = .rediscovering
            machine.installedGeneration = nil
            try machine.update(db)
            try HardwareRow.deleteOne(db, key: mac.description)
            try InstallRow.filter(Column("mac") == mac.description).deleteAll(db)
            try EventRow.forgotten(mac, reason: reason, at: at).insert(db)
        }
    }

    private static func runningRow(_ db: Database, _ key: TaskRunKey) throws -> TaskRunRow? {
        try TaskRunRow.filter(Column("task") == key.task && Column("revision") == key.revision && Column("machine") == key.machine
                              && Column("state") == TaskRunState.running).fetchOne(db)
    }
}
