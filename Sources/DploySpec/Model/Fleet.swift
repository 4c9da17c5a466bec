/// The whole desired state at one commit: every object of every kind, each list sorted by name.
public struct Fleet: Hashable, Sendable {
    public var machines: [Machine] = []
    public var groups: [Group] = []
    public var profiles: [Profile] = []
    public var firmwareBaselines: [FirmwareBaseline] = []
    public var tasks: [TaskDefinition] = []

    public init() {}

    public func machine(named name: String) -> Machine? { machines.first { $0.name == name } }
    public func group(named name: String) -> Group? { groups.first { $0.name == name } }
    public func profile(named name: String) -> Profile? { profiles.first { $0.name == name } }
    public func firmwareBaseline(named name: String) -> FirmwareBaseline? { firmwareBaselines.first { $0.name == name } }

    mutating func add(_ document: SpecDocument) {
        switch document {
        case .machine(let machine): machines.append(machine)
        case .group(let group): groups.append(group)
        case .profile(let profile): profiles.append(profile)
        case .firmwareBaseline(let baseline): firmwareBaselines.append(baseline)
        case .task(let task): tasks.append(task)
        }
    }

    mutating func sortByName() {
        // Sort names, then move each machine once: cheaper than swapping large values.
        machines = machines.indices.sorted { machines[$0].name < machines[$1].name }.map { machines[$0] }
        groups.sort { $0.name < $1.name }
        profiles.sort { $0.name < $1.name }
        firmwareBaselines.sort { $0.name < $1.name }
        tasks.sort { $0.name < $1.name }
    }

    /// "8 machines, 3 groups, 2 profiles, 1 firmware baseline, 2 tasks".
    public var summary: String {
        func count(_ n: Int, _ singular: String, _ plural: String) -> String { "\(n) \(n == 1 ? singular : plural)" }
        return [
            count(machines.count, "machine", "machines"),
            count(groups.count, "group", "groups"),
            count(profiles.count, "profile", "profiles"),
            count(firmwareBaselines.count, "firmware baseline", "firmware baselines"),
            count(tasks.count, "task", "tasks"),
        ].joined(separator: ", ")
    }
}
