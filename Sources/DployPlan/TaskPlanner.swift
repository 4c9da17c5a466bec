import DployInventory
import DploySpec

/// A task with runs still to do: which machines it will run on, and why now.
public struct TaskPlan: Hashable, Sendable, Codable {
    public var task: String
    /// The task's content hash: a run is owed once per machine at this revision.
    public var revision: String
    /// `ssh`, `power`, `rediscover`, `image-capture`, `image-restore`.
    public var action: TaskActionKind
    /// The action in one line, for plans and pages.
    public var summary: String
    /// Machines whose run is pending, by name.
    public var targets: [String]
    public var reason: Reason

    public init(task: String, revision: String, action: TaskActionKind, summary: String, targets: [String], reason: Reason) {
        self.task = task
        self.revision = revision
        self.action = action
        self.summary = summary
        self.targets = targets
        self.reason = reason
    }
}

/// Which task runs are owed: every target of every task in git that has no recorded run
/// at the task's revision. Pure, like the planner it belongs to.
public enum TaskPlanner {
    /// The machines a task names: by name, through groups, and by selector; in name order.
    public static func targets(of task: TaskDefinition, in fleet: Fleet, resolver: DefaultsResolver) -> [Machine] {
        let names = Set(task.targets.machines.map(\.value))
        let groups = Set(task.targets.groups.map(\.value))
        let selector = task.targets.selector ?? [:]
        return fleet.machines.filter { machine in
            if names.contains(machine.name) { return true }
            if !selector.isEmpty, selector.allSatisfy({ machine.metadata.labels[$0.key] == $0.value }) { return true }
            return !groups.isEmpty && resolver.groups(containing: machine).contains { groups.contains($0.name) }
        }.sorted { $0.name < $1.name }
    }

    /// The tasks with pending runs, in name order, and notes on tasks that target nothing.
    public static func plan(fleet: Fleet, resolver: DefaultsResolver,
                            recorded: [TaskRunKey: TaskRunState]) -> (tasks: [TaskPlan], notes: [Reason]) {
        guard !fleet.tasks.isEmpty else { return ([], []) }
        let revisionsRun = Dictionary(grouping: recorded.keys, by: \.task).mapValues { Set($0.map(\.revision)) }
        var plans: [TaskPlan] = []
        var notes: [Reason] = []
        for task in fleet.tasks.sorted(by: { $0.name < $1.name }) {
            let revision = TaskRevision.of(task)
            let targets = targets(of: task, in: fleet, resolver: resolver)
            if targets.isEmpty {
                notes.append(Reason(.taskTargetsNothing, "task '\(task.name)' targets no machine: its groups and selector match none"))
                continue
            }
            let pending = targets.map(\.name).filter { recorded[TaskRunKey(task: task.name, revision: revision, machine: $0)] == nil }
            guard !pending.isEmpty else { continue }
            let earlier = revisionsRun[task.name] ?? []
            let reason = if earlier.contains(revision) {
                Reason(.newTargets, "new targets since it ran")
            } else if earlier.isEmpty {
                Reason(.newTask, "new task: runs once on each target")
            } else {
                Reason(.taskEdited, "edited since it last ran: runs once more on each target")
            }
            plans.append(TaskPlan(task: task.name, revision: revision, action: task.action.kind, summary: task.action.summary,
                                  targets: pending, reason: reason))
        }
        return (plans, notes)
    }
}
