import DployInventory
import DployPlan
import DploySpec
import Foundation

/// A task as operators look at it (`dploy tasks`, `/v1/tasks`, the web page): the task in
/// git with each target's run at its current revision (pending until it runs), then runs
/// of earlier revisions and of tasks since removed from git, which stay as history.
public struct TaskOverview: Hashable, Sendable, Codable {
    public struct Run: Hashable, Sendable, Codable {
        public var machine: String
        public var revision: String
        public var state: TaskRunState
        public var startedAt: Date?
        public var finishedAt: Date?
        public var exitCode: Int?
        public var output: String?
        public var error: String?
    }

    public var task: String
    public var inGit: Bool
    /// The revision in git; nil for a task removed from git.
    public var revision: String?
    public var action: TaskActionKind?
    public var summary: String?
    /// Runs at the revision in git, one per target, pending ones included.
    public var runs: [Run]
    /// Runs of earlier revisions, or of the task when it was in git.
    public var history: [Run]

    /// Per state, how many of `runs` are in it: `succeeded 3, failed 1, pending 2`.
    public var counts: String {
        TaskRunState.allCases.compactMap { state in
            let count = runs.count { $0.state == state }
            return count == 0 ? nil : "\(state.rawValue) \(count)"
        }.joined(separator: ", ")
    }

    /// Every task in git and every task with recorded runs, by name.
    public static func rows(fleet: Fleet, runs recorded: [TaskRun]) -> [TaskOverview] {
        let resolver = DefaultsResolver(groups: fleet.groups)
        let byTask = Dictionary(grouping: recorded, by: \.key.task)
        var rows: [TaskOverview] = fleet.tasks.map { task in
            let revision = TaskRevision.of(task)
            let runs = byTask[task.name] ?? []
            let current = Dictionary(runs.filter { $0.key.revision == revision }.map { ($0.key.machine, $0) }) { first, _ in first }
            let targets = TaskPlanner.targets(of: task, in: fleet, resolver: resolver).map(\.name)
            let targetSet = Set(targets)
            var rows = targets.map { machine in
                current[machine].map(Run.init) ?? Run(machine: machine, revision: revision, state: .pending)
            }
            // A machine that left the targets keeps the run it had.
            rows += current.values.filter { !targetSet.contains($0.key.machine) }.map(Run.init).sorted { $0.machine < $1.machine }
            return TaskOverview(task: task.name, inGit: true, revision: revision, action: task.action.kind,
                                summary: task.action.summary, runs: rows,
                                history: runs.filter { $0.key.revision != revision }.map(Run.init))
        }
        let inGit = Set(fleet.tasks.map(\.name))
        for (name, runs) in byTask where !inGit.contains(name) {
            rows.append(TaskOverview(task: name, inGit: false, revision: nil, action: runs.first?.action, summary: nil,
                                     runs: [], history: runs.map(Run.init)))
        }
        return rows.sorted { $0.task < $1.task }
    }
}

extension TaskOverview.Run {
    init(machine: String, revision: String, state: TaskRunState) {
        self.init(machine: machine, revision: revision, state: state, startedAt: nil, finishedAt: nil, exitCode: nil,
                  output: nil, error: nil)
    }

    public init(_ run: TaskRun) {
        self.init(machine: run.key.machine, revision: run.key.revision, state: run.state, startedAt: run.startedAt,
                  finishedAt: run.finishedAt, exitCode: run.exitCode, output: run.output, error: run.error)
    }
}
