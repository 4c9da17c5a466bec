/// A spec file's name and contents: from a folder on disk or a blob in a git tree.
public struct SpecFile: Hashable, Sendable {
    /// The path shown in diagnostics.
    public var path: String
    public var contents: [UInt8]

    public init(path: String, contents: [UInt8]) {
        self.path = path
        self.contents = contents
    }

    public init(path: String, text: String) {
        self.init(path: path, contents: Array(text.utf8))
    }
}

/// The documents of one file and the problems found in it; independent of every other
/// file, so a git source can cache it by blob id.
public struct ParsedFile: Hashable, Sendable {
    public var path: String
    public var documents: [SpecDocument]
    /// Documents that held something, including those that failed to decode.
    public var documentCount: Int
    public var diagnostics: [Diagnostic]
}
