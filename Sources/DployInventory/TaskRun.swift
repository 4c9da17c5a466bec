import DploySpec
import Foundation

/// One task run is one task, at one content revision, on one machine: the unit dploy runs
/// at most once. Editing a task gives it a new revision, and so new runs.
public struct TaskRunKey: Hashable, Sendable, Codable, Comparable {
    public var task: String
    /// The task's content hash (hex), as `TaskRevision` computes it.
    public var revision: String
    /// The target machine's name in git.
    public var machine: String

    public init(task: String, revision: String, machine: String) {
        self.task = task
        self.revision = revision
        self.machine = machine
    }

    public static func < (a: TaskRunKey, b: TaskRunKey) -> Bool {
        (a.task, a.revision, a.machine) < (b.task, b.revision, b.machine)
    }
}

/// Where a task run is. A run that has no row yet is pending; the store holds the rest.
public enum TaskRunState: String, Codable, Hashable, Sendable, CaseIterable {
    case pending, running, succeeded, failed, skipped

    /// Whether the run is over: it never changes again.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .skipped }
}

/// A task run as stored: what ran where, when, and how it ended.
public struct TaskRun: Hashable, Sendable {
    public var key: TaskRunKey
    public var mac: MACAddress?
    /// The action's kind: `ssh`, `power`, `rediscover`, `image-capture`, `image-restore`.
    public var action: TaskActionKind
    public var state: TaskRunState
    public var startedAt: Date?
    public var finishedAt: Date?
    /// A run still running after this is failed as timed out (imaging runs, which wait for
    /// the machine's callbacks across dploy restarts).
    public var deadline: Date?
    /// The command's exit status (ssh).
    public var exitCode: Int?
    /// The command's output or the imaging environment's progress, truncated.
    public var output: String?
    /// Why the run failed or was skipped.
    public var error: String?

    public init(key: TaskRunKey, mac: MACAddress?, action: TaskActionKind, state: TaskRunState, startedAt: Date? = nil,
                finishedAt: Date? = nil, deadline: Date? = nil, exitCode: Int? = nil, output: String? = nil, error: String? = nil) {
        self.key = key
        self.mac = mac
        self.action = action
        self.state = state
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.deadline = deadline
        self.exitCode = exitCode
        self.output = output
        self.error = error
    }
}

/// How a run ended, as the runner reports it to the store.
public struct TaskRunOutcome: Hashable, Sendable {
    public var state: TaskRunState
    public var exitCode: Int?
    public var output: String?
    public var error: String?

    public init(state: TaskRunState, exitCode: Int? = nil, output: String? = nil, error: String? = nil) {
        self.state = state
        self.exitCode = exitCode
        self.output = output
        self.error = error
    }

    public static let succeeded = TaskRunOutcome(state: .succeeded)
    public static func failed(_ error: String, exitCode: Int? = nil, output: String? = nil) -> TaskRunOutcome {
        TaskRunOutcome(state: .failed, exitCode: exitCode, output: output, error: error)
    }
}
