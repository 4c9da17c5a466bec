import DployRender
import DploySpec

/// What applying would change, grouped per machine, each step with the reason for it.
public struct Plan: Hashable, Sendable, Codable {
    /// Where the desired state came from: a folder, or a commit and its summary.
    public var source: String
    /// The commit the desired state is at, when it came from git: recorded as the last
    /// applied commit once the plan is applied.
    public var revision: String?
    /// Identifies the desired and observed state the plan was made from; a saved plan is
    /// applied only while both are unchanged.
    public var fingerprint: String
    public var machines: [MachinePlan]
    /// Steps that belong to no single machine: the iPXE entry script, the DHCP configuration.
    public var shared: [Action]
    /// Task runs owed: tasks in git not yet run on some of their targets at their revision.
    public var tasks: [TaskPlan] = []
    /// Notes that change nothing: removals prune holds back, machines left as they are.
    public var notes: [String]

    public var toAdd: Int { machines.count { $0.change == .add } }
    public var toChange: Int { machines.count { $0.change == .change } }
    public var toRemove: Int { machines.count { $0.change == .remove } }
    public var hasChanges: Bool { !machines.isEmpty || !shared.isEmpty || !tasks.isEmpty }
    /// Task runs pending, over all tasks.
    public var taskRuns: Int { tasks.reduce(0) { $0 + $1.targets.count } }

    /// "Plan: 1 to add, 2 to change, 0 to remove." and, with tasks, "3 task runs pending."
    public var summary: String {
        let files = "Plan: \(toAdd) to add, \(toChange) to change, \(toRemove) to remove."
        return tasks.isEmpty ? files : files + " \(taskRuns) task run\(taskRuns == 1 ? "" : "s") pending."
    }

    /// Every action in the order Apply runs them: machines by name, then shared steps.
    public var actions: [Action] { machines.flatMap(\.actions) + shared }

    public init(source: String, revision: String?, fingerprint: String, machines: [MachinePlan], shared: [Action],
                tasks: [TaskPlan] = [], notes: [String]) {
        self.source = source
        self.revision = revision
        self.fingerprint = fingerprint
        self.machines = machines
        self.shared = shared
        self.tasks = tasks
        self.notes = notes
    }

    private enum CodingKeys: String, CodingKey { case source, revision, fingerprint, machines, shared, tasks, notes }

    /// A plan saved before tasks were planned has no `tasks`: it had none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        source = try container.decode(String.self, forKey: .source)
        revision = try container.decodeIfPresent(String.self, forKey: .revision)
        fingerprint = try container.decode(String.self, forKey: .fingerprint)
        machines = try container.decode([MachinePlan].self, forKey: .machines)
        shared = try container.decode([Action].self, forKey: .shared)
        tasks = try container.decodeIfPresent([TaskPlan].self, forKey: .tasks) ?? []
        notes = try container.decode([String].self, forKey: .notes)
    }
}

public struct MachinePlan: Hashable, Sendable, Codable {
    public enum Change: String, Hashable, Sendable, Codable {
        case add, change, remove
    }

    /// The machine's name; for a machine removed from git, its MAC or its old name.
    public var machine: String
    public var change: Change
    public var reasons: [String]
    public var actions: [Action]
}

/// One step that changes the world. Apply executes exactly these, in order.
public struct Action: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        case writeFile = "write"
        case removeFile = "remove"
        case writeDHCPConfig = "dhcp"
        case reloadDHCP = "reload"
        case bmcBootOnceFromNetwork = "bmc-boot-once"
        case bmcPower = "bmc-power"
        case firmwareUpdate = "firmware"
    }

    public var kind: Kind
    public var machine: String?
    public var path: OutputPath?
    /// The power action, the firmware component, the reload command: what `kind` needs.
    public var detail: String?
    /// A firmware step's component and image.
    public var firmware: FirmwareTarget?
    public var reason: String

    public init(_ kind: Kind, machine: String? = nil, path: OutputPath? = nil, detail: String? = nil,
                firmware: FirmwareTarget? = nil, reason: String) {
        self.kind = kind
        self.machine = machine
        self.path = path
        self.detail = detail
        self.firmware = firmware
        self.reason = reason
    }

    /// Whether Apply needs a BMC for this step.
    public var needsBMC: Bool { [.bmcBootOnceFromNetwork, .bmcPower, .firmwareUpdate].contains(kind) }
}
