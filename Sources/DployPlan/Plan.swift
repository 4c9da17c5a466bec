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
    public var notes: [Reason]

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
                tasks: [TaskPlan] = [], notes: [Reason]) {
        self.source = source
        self.revision = revision
        self.fingerprint = fingerprint
        self.machines = machines
        self.shared = shared
        self.tasks = tasks
        self.notes = notes
    }

    /// The version of the JSON form (`plan --json`, `plan --out`): 2 since actions are typed
    /// and reasons carry codes. A saved plan of another version is refused, never guessed at.
    public static let format = 2

    private enum CodingKeys: String, CodingKey { case format, source, revision, fingerprint, machines, shared, tasks, notes }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.format, forKey: .format)
        try container.encode(source, forKey: .source)
        try container.encodeIfPresent(revision, forKey: .revision)
        try container.encode(fingerprint, forKey: .fingerprint)
        try container.encode(machines, forKey: .machines)
        try container.encode(shared, forKey: .shared)
        try container.encode(tasks, forKey: .tasks)
        try container.encode(notes, forKey: .notes)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let format = try container.decodeIfPresent(Int.self, forKey: .format) ?? 1
        guard format == Self.format else { throw PlanFormatError(found: format) }
        source = try container.decode(String.self, forKey: .source)
        revision = try container.decodeIfPresent(String.self, forKey: .revision)
        fingerprint = try container.decode(String.self, forKey: .fingerprint)
        machines = try container.decode([MachinePlan].self, forKey: .machines)
        shared = try container.decode([Action].self, forKey: .shared)
        tasks = try container.decode([TaskPlan].self, forKey: .tasks)
        notes = try container.decode([Reason].self, forKey: .notes)
    }
}

/// A plan in a JSON form this dploy does not read: saved by another version.
public struct PlanFormatError: Error, CustomStringConvertible {
    public var found: Int
    public var description: String {
        "the plan is in format \(found), this dploy reads format \(Plan.format): it was saved by another version of dploy; run dploy plan again"
    }
}

extension Plan {
    /// What a replica of a shared store applies: the files and the DHCP steps, none of the
    /// BMC steps or task runs, which are the leader's alone.
    public var filesOnly: Plan {
        var plan = self
        plan.machines = machines.compactMap { machine in
            var files = machine
            files.actions = machine.actions.filter { !$0.needsBMC }
            return files.actions.isEmpty ? nil : files
        }
        plan.shared = shared.filter { !$0.needsBMC }
        plan.tasks = []
        return plan
    }
}

public struct MachinePlan: Hashable, Sendable, Codable {
    /// The files its steps write.
    var writtenPaths: [OutputPath] {
        actions.compactMap { action in if case .writeFile(let path, _, _) = action { path } else { nil } }
    }

    public enum Change: String, Hashable, Sendable, Codable {
        case add, change, remove
    }

    /// The machine's name; for a machine removed from git, its MAC or its old name.
    public var machine: String
    public var change: Change
    public var reasons: [Reason]
    public var actions: [Action]
}

/// One step that changes the world. Apply executes exactly these, in order; each carries
/// what it needs and nothing else, and the reason it is planned.
public enum Action: Hashable, Sendable {
    /// Write a boot file or installer answer of `machine`, or a shared file (machine nil).
    case writeFile(OutputPath, machine: String?, reason: Reason)
    /// Remove a file dploy wrote for `machine` that nothing needs any more.
    case removeFile(OutputPath, machine: String, reason: Reason)
    /// Write one DHCP file; the configuration as it will be is checked before any file moves.
    case writeDHCPConfig(OutputPath, reason: Reason)
    /// Run the configured command that makes the DHCP server reread its files.
    case reloadDHCP(command: String, reason: Reason)
    /// Ask the machine's BMC to boot from the network once.
    case bootOnceFromNetwork(machine: String, reason: Reason)
    /// Power the machine on, off, or cycle it, through its BMC.
    case power(machine: String, PowerAction, reason: Reason)
    /// Flash one firmware component through the machine's BMC.
    case updateFirmware(machine: String, FirmwareTarget, reason: Reason)
    /// Write BIOS attributes to the pending settings through the machine's BMC, for its next
    /// reboot: only those that differ, in one PATCH. `ifMatch` is the pending settings' ETag
    /// as read when the plan was made, sent as `If-Match`: if they changed since, the BMC
    /// answers 412 and nothing is written (nil: the BMC gave none; apply reads one then).
    case setBIOSAttributes(machine: String, [BIOSChange], ifMatch: String?, reason: Reason)
    /// Create or delete logical drives on one of the machine's RAID controllers through its
    /// BMC: one PUT of SmartStorageConfig (applied at the next reboot), or DMTF volume POSTs
    /// and DELETEs. A change that deletes is destructive and planned only when allowed.
    case configureRAID(machine: String, RAIDChange, reason: Reason)

    public var reason: Reason {
        switch self {
        case .writeFile(_, _, let reason), .removeFile(_, _, let reason), .writeDHCPConfig(_, let reason),
             .reloadDHCP(_, let reason), .bootOnceFromNetwork(_, let reason), .power(_, _, let reason),
             .updateFirmware(_, _, let reason), .setBIOSAttributes(_, _, _, let reason), .configureRAID(_, _, let reason):
            reason
        }
    }

    /// The machine the step is for; nil for shared steps.
    public var machine: String? {
        switch self {
        case .writeFile(_, let machine, _): machine
        case .removeFile(_, let machine, _), .bootOnceFromNetwork(let machine, _), .power(let machine, _, _),
             .updateFirmware(let machine, _, _), .setBIOSAttributes(let machine, _, _, _), .configureRAID(let machine, _, _):
            machine
        case .writeDHCPConfig, .reloadDHCP: nil
        }
    }

    /// The file the step writes or removes.
    public var path: OutputPath? {
        switch self {
        case .writeFile(let path, _, _), .removeFile(let path, _, _), .writeDHCPConfig(let path, _): path
        case .reloadDHCP, .bootOnceFromNetwork, .power, .updateFirmware, .setBIOSAttributes, .configureRAID: nil
        }
    }

    /// Whether Apply needs a BMC for this step.
    public var needsBMC: Bool {
        switch self {
        case .bootOnceFromNetwork, .power, .updateFirmware, .setBIOSAttributes, .configureRAID: true
        case .writeFile, .removeFile, .writeDHCPConfig, .reloadDHCP: false
        }
    }

    /// The step's name, as `plan --json` gives it in `kind`.
    public enum Kind: String, CaseIterable, Hashable, Sendable {
        case writeFile, removeFile, writeDHCPConfig, reloadDHCP, bootOnceFromNetwork, power, updateFirmware, setBIOSAttributes, configureRAID
    }

    public var kind: Kind {
        switch self {
        case .writeFile: .writeFile
        case .removeFile: .removeFile
        case .writeDHCPConfig: .writeDHCPConfig
        case .reloadDHCP: .reloadDHCP
        case .bootOnceFromNetwork: .bootOnceFromNetwork
        case .power: .power
        case .updateFirmware: .updateFirmware
        case .setBIOSAttributes: .setBIOSAttributes
        case .configureRAID: .configureRAID
        }
    }
}

/// `plan --json` and saved plans: one flat object per action, `kind` first among equals,
/// the payload's fields beside it (`schemas/plan.schema.json`).
extension Action: Codable {
    private enum CodingKeys: String, CodingKey { case kind, machine, path, command, power, firmware, bios, raid, ifMatch, reason }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .kind)
        try container.encodeIfPresent(machine, forKey: .machine)
        try container.encodeIfPresent(path, forKey: .path)
        switch self {
        case .reloadDHCP(let command, _): try container.encode(command, forKey: .command)
        case .power(_, let power, _): try container.encode(power.rawValue, forKey: .power)
        case .updateFirmware(_, let target, _): try container.encode(target, forKey: .firmware)
        case .setBIOSAttributes(_, let changes, let ifMatch, _):
            try container.encode(changes, forKey: .bios)
            try container.encodeIfPresent(ifMatch, forKey: .ifMatch)
        case .configureRAID(_, let change, _):
            try container.encode(change, forKey: .raid)
        case .writeFile, .removeFile, .writeDHCPConfig, .bootOnceFromNetwork: break
        }
        try container.encode(reason, forKey: .reason)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let word = try container.decode(String.self, forKey: .kind)
        guard let kind = Kind(rawValue: word) else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown action kind '\(word)'")
        }
        let reason = try container.decode(Reason.self, forKey: .reason)
        func machine() throws -> String { try container.decode(String.self, forKey: .machine) }
        func path() throws -> OutputPath { try container.decode(OutputPath.self, forKey: .path) }
        switch kind {
        case .writeFile: self = .writeFile(try path(), machine: try container.decodeIfPresent(String.self, forKey: .machine), reason: reason)
        case .removeFile: self = .removeFile(try path(), machine: try machine(), reason: reason)
        case .writeDHCPConfig: self = .writeDHCPConfig(try path(), reason: reason)
        case .reloadDHCP: self = .reloadDHCP(command: try container.decode(String.self, forKey: .command), reason: reason)
        case .bootOnceFromNetwork: self = .bootOnceFromNetwork(machine: try machine(), reason: reason)
        case .power:
            let power = try container.decode(String.self, forKey: .power)
            guard let power = PowerAction(rawValue: power) else {
                throw DecodingError.dataCorruptedError(forKey: .power, in: container, debugDescription: "unknown power action '\(power)'")
            }
            self = .power(machine: try machine(), power, reason: reason)
        case .updateFirmware:
            self = .updateFirmware(machine: try machine(), try container.decode(FirmwareTarget.self, forKey: .firmware), reason: reason)
        case .setBIOSAttributes:
            self = .setBIOSAttributes(machine: try machine(), try container.decode([BIOSChange].self, forKey: .bios),
                                      ifMatch: try container.decodeIfPresent(String.self, forKey: .ifMatch), reason: reason)
        case .configureRAID:
            self = .configureRAID(machine: try machine(), try container.decode(RAIDChange.self, forKey: .raid), reason: reason)
        }
    }
}
