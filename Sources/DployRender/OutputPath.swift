/// Where a rendered file goes: below the HTTP root, the TFTP root, or the DHCP config folder.
public struct OutputPath: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public enum Root: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
        case http, tftp, dhcp
        public static func < (lhs: Root, rhs: Root) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var root: Root
    /// `/`-separated, relative to the root.
    public var path: String

    public init(_ root: Root, _ path: String) {
        self.root = root
        self.path = path
    }

    public var description: String { "\(root.rawValue)/\(path)" }

    public static func < (lhs: OutputPath, rhs: OutputPath) -> Bool { (lhs.root, lhs.path) < (rhs.root, rhs.path) }
}

/// One file dploy wants to exist, with the machine it belongs to (nil for shared files).
public struct RenderedFile: Hashable, Sendable {
    public var path: OutputPath
    public var contents: [UInt8]
    public var machine: String?

    public init(_ path: OutputPath, _ text: String, machine: String? = nil) {
        self.path = path
        self.contents = Array(text.utf8)
        self.machine = machine
    }
}
