/// A one-shot job (the `Task` kind): run once per name and content on its target machines.
///
/// Named `TaskDefinition` in Swift so it never shadows the concurrency `Task`.
public struct TaskDefinition: Hashable, Sendable {
    public var metadata: ObjectMeta
    public var targets: TaskTargets
    public var action: TaskAction
    public var concurrency: Int
    public var timeout: Duration
    public var stopOnFailure: Bool

    public var name: String { metadata.name }

    public init(metadata: ObjectMeta, targets: TaskTargets, action: TaskAction, concurrency: Int = 1,
                timeout: Duration = .seconds(600), stopOnFailure: Bool = false) {
        self.metadata = metadata
        self.targets = targets
        self.action = action
        self.concurrency = concurrency
        self.timeout = timeout
        self.stopOnFailure = stopOnFailure
    }
}

public struct TaskTargets: Hashable, Sendable {
    public var machines: [Located<String>]
    public var groups: [Located<String>]
    public var selector: [String: String]?

    public init(machines: [Located<String>] = [], groups: [Located<String>] = [], selector: [String: String]? = nil) {
        self.machines = machines
        self.groups = groups
        self.selector = selector
    }
}

/// What a task does, by one name everywhere: task runs in the store, events, plans,
/// `dploy tasks` and the API. Its raw values are stored: never rename one.
public enum TaskActionKind: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case ssh
    case imageCapture = "image-capture"
    case imageRestore = "image-restore"
    case rediscover
    case power

    /// The actions that boot the machine into the imaging environment.
    public static let imaging: Set<TaskActionKind> = [.imageCapture, .imageRestore]

    public var isImaging: Bool { Self.imaging.contains(self) }

    /// Its raw value, so that messages say `image-capture`, never `imageCapture`.
    public var description: String { rawValue }
}

public enum TaskAction: Hashable, Sendable {
    case ssh(command: String, user: String, credentials: String, hostKey: HostKeyPolicy, port: Int = 22)
    case imageCapture(url: String, disk: String)
    case imageRestore(url: String, disk: String, sha256: String?)
    case rediscover
    case power(PowerAction)

    public static let fieldNames = ["ssh", "imageCapture", "imageRestore", "rediscover", "power"]

    /// The action's kind as runs, events and `dploy tasks` name it.
    public var kind: TaskActionKind {
        switch self {
        case .ssh: .ssh
        case .imageCapture: .imageCapture
        case .imageRestore: .imageRestore
        case .rediscover: .rediscover
        case .power: .power
        }
    }

    /// Whether the action boots the machine into the imaging environment.
    public var isImaging: Bool { kind.isImaging }

    /// One line for plans and pages: `ssh as root: systemctl restart nginx`.
    public var summary: String {
        switch self {
        case .ssh(let command, let user, _, _, let port):
            "ssh as \(user)\(port == 22 ? "" : " on port \(port)"): \(command.split(separator: "\n").first.map(String.init) ?? "")"
        case .imageCapture(let url, let disk): "capture \(disk) to \(url)"
        case .imageRestore(let url, let disk, _): "restore \(url) to \(disk)"
        case .rediscover: "rediscover: forget hardware and installs"
        case .power(let action): "power \(action.rawValue)"
        }
    }
}

public enum HostKeyPolicy: String, CaseIterable, Hashable, Sendable {
    /// The host key must already be in the configured known_hosts file.
    case strict
    /// Trust a host key seen for the first time; still refuse a changed one.
    case acceptNew = "accept-new"
}

public enum PowerAction: String, CaseIterable, Hashable, Sendable {
    case on, off, cycle
}
