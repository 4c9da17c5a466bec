/// One decoded document of any kind.
public enum SpecDocument: Hashable, Sendable {
    case machine(Machine)
    case group(Group)
    case profile(Profile)
    case firmwareBaseline(FirmwareBaseline)
    case task(TaskDefinition)

    public var kind: Kind {
        switch self {
        case .machine: .machine
        case .group: .group
        case .profile: .profile
        case .firmwareBaseline: .firmwareBaseline
        case .task: .task
        }
    }

    public var metadata: ObjectMeta {
        switch self {
        case .machine(let m): m.metadata
        case .group(let g): g.metadata
        case .profile(let p): p.metadata
        case .firmwareBaseline(let f): f.metadata
        case .task(let t): t.metadata
        }
    }
}
