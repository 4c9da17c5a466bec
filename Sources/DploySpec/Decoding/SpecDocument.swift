/// One decoded document of any kind.
///
/// The kinds other than Machine are boxed (`indirect`): an enum is as wide as its widest
/// case, and the git source keeps every parsed file's documents, ten thousand of them
/// mostly machines (one reference wide), each otherwise as wide as a Task (~4 MB).
public enum SpecDocument: Hashable, Sendable {
    case machine(Machine)
    indirect case group(Group)
    indirect case profile(Profile)
    indirect case firmwareBaseline(FirmwareBaseline)
    indirect case task(TaskDefinition)

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
