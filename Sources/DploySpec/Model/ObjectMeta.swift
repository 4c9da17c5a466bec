/// The kinds of document the spec language has.
public enum Kind: String, CaseIterable, Hashable, Sendable, Comparable {
    case machine = "Machine"
    case group = "Group"
    case profile = "Profile"
    case firmwareBaseline = "FirmwareBaseline"
    case task = "Task"

    public static let apiVersion = "dploy.org/v1"

    public static func < (lhs: Kind, rhs: Kind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// What every document has: its name, its labels, and where it was written.
public struct ObjectMeta: Hashable, Sendable {
    public var name: String
    public var labels: [String: String]
    /// Where `metadata.name` is written: the place errors about the object point to.
    public var location: SourceLocation

    public init(name: String, labels: [String: String] = [:], location: SourceLocation) {
        self.name = name
        self.labels = labels
        self.location = location
    }
}
