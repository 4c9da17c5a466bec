import DploySpec
import Foundation

/// Task runs in the shared store. The unique key (task, revision, machine) decides which
/// controller starts a run: the other's insert finds it there and records nothing.
extension PostgresStore {
    public func startTaskRun(_ run: TaskRun) throws -> Bool {
        try pool.transaction { connection in
            try checkFence(connection)
            let inserted = try connection.execute("""
                INSERT INTO task_run (task, revision, machine, mac, action, state, started_at, finished_at, deadline,
                                      exit_code, output, error)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT (task, revision, machine) DO NOTHING
                RETURNING id
                """, [run.key.task, run.key.revision, run.key.machine, run.mac?.description, run.action.rawValue,
                      run.state.rawValue, run.startedAt, run.finishedAt, run.deadline, run.exitCode, run.output, run.error])
            guard inserted.first != nil else { return false }
            if let mac = run.mac { try Self.insert(connection, .taskStarted(run, mac: mac)) }
            return true
        }
    }

    public func finishTaskRun(_ key: TaskRunKey, _ outcome: TaskRunOutcome, at: Date) throws -> Bool {
        try pool.transaction { connection in
            let finished = try connection.execute("""
                UPDATE task_run SET state = $4, finished_at = $5, exit_code = $6, output = COALESCE($7, output), error = $8
                WHERE task = $1 AND revision = $2 AND machine = $3 AND state = 'running'
                RETURNING mac
                """, [key.task, key.revision, key.machine, outcome.state.rawValue, at, outcome.exitCode, outcome.output, outcome.error])
            guard let row = finished.first else { return false }
            if let mac = row["mac"] { try Self.insert(connection, .taskFinished(key, mac: mac, outcome, at: at)) }
            return true
        }
    }

    public func updateTaskRunOutput(_ key: TaskRunKey, _ output: String) throws {
        _ = try pool.withConnection { connection in
            try connection.execute("""
                UPDATE task_run SET output = $4 WHERE task = $1 AND revision = $2 AND machine = $3 AND state = 'running'
                """, [key.task, key.revision, key.machine, output])
        }
    }

    public func taskRunStates() throws -> [TaskRunKey: TaskRunState] {
        try pool.withConnection { connection in
            try connection.execute("SELECT task, revision, machine, state FROM task_run").all.reduce(into: [:]) { states, row in
                let key = TaskRunKey(task: row["task"] ?? "", revision: row["revision"] ?? "", machine: row["machine"] ?? "")
                states[key] = try Self.known(TaskRunState.self, row["state"], column: "state", table: "taskRun", key: key.task)
            }
        }
    }

    public func taskRuns(task: String?) throws -> [TaskRun] {
        try pool.withConnection { connection in
            let rows = if let task {
                try connection.execute("SELECT * FROM task_run WHERE task = $1 ORDER BY task, id", [task])
            } else {
                try connection.execute("SELECT * FROM task_run ORDER BY task, id")
            }
            return try rows.all.map(Self.taskRun)
        }
    }

    public func runningTaskRun(mac: MACAddress, actions: Set<TaskActionKind>, at now: Date) throws -> TaskRun? {
        try pool.withConnection { try Self.runningTaskRun(on: $0, mac: mac, actions: actions, at: now) }
    }

    /// The newest running run of `actions` on `mac` at `now`, on a connection already held
    /// (`bootRecord` reads it with the machine's other facts).
    static func runningTaskRun(on connection: PostgresConnection, mac: MACAddress, actions: Set<TaskActionKind>,
                               at now: Date) throws -> TaskRun? {
        try connection.execute(running + " AND mac = $3 ORDER BY id DESC LIMIT 1", [array(actions), now, mac.description])
            .first.map(taskRun)
    }

    public func runningTaskRuns(actions: Set<TaskActionKind>, at now: Date) throws -> [TaskRun] {
        try pool.withConnection { connection in
            try connection.execute(Self.running + " ORDER BY id", [Self.array(actions), now]).all.map(Self.taskRun)
        }
    }

    /// Running runs of the actions in $1 not past their deadline at $2.
    private static let running = """
        SELECT * FROM task_run WHERE state = 'running' AND action = ANY($1::text[]) AND (deadline IS NULL OR deadline > $2)
        """

    public func taskRuns(mac: MACAddress) throws -> [TaskRun] {
        try pool.withConnection { connection in
            try connection.execute("SELECT * FROM task_run WHERE mac = $1 ORDER BY id DESC", [mac.description]).all.map(Self.taskRun)
        }
    }

    public func failOverdueTaskRuns(at now: Date) throws -> [TaskRun] {
        let overdue = try pool.withConnection { connection in
            try checkFence(connection)
            return try connection.execute("SELECT * FROM task_run WHERE state = 'running' AND deadline IS NOT NULL AND deadline < $1 ORDER BY id",
                                   [now]).all.map(Self.taskRun)
        }
        return try overdue.compactMap { run in try finish(run, .failed(StoreText.timedOut(run)), at: now) }
    }

    public func failInterruptedTaskRuns(actions: Set<TaskActionKind>, machines: Set<String>?, at now: Date) throws -> [TaskRun] {
        let interrupted = try pool.withConnection { connection in
            try checkFence(connection)
            return try connection.execute("SELECT * FROM task_run WHERE state = 'running' AND action = ANY($1::text[]) ORDER BY id",
                                   [Self.array(actions)]).all.map(Self.taskRun).filter { machines?.contains($0.key.machine) ?? true }
        }
        return try interrupted.compactMap { run in try finish(run, .failed(StoreText.interrupted), at: now) }
    }

    /// A text array literal of the actions' raw values, which are plain words.
    private static func array(_ actions: Set<TaskActionKind>) -> String {
        "{" + actions.map { "\"\($0.rawValue)\"" }.sorted().joined(separator: ",") + "}"
    }

    static func taskRun(_ row: PostgresRow) throws -> TaskRun {
        let key = TaskRunKey(task: row["task"] ?? "", revision: row["revision"] ?? "", machine: row["machine"] ?? "")
        return TaskRun(key: key, mac: row["mac"].flatMap(MACAddress.init),
                       action: try known(TaskActionKind.self, row["action"], column: "action", table: "taskRun", key: key.task),
                       state: try known(TaskRunState.self, row["state"], column: "state", table: "taskRun", key: key.task),
                       startedAt: row.date("started_at"), finishedAt: row.date("finished_at"), deadline: row.date("deadline"),
                       exitCode: row.int("exit_code"), output: row["output"], error: row["error"])
    }
}
