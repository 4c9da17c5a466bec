/// A place in a spec file, 1-based, as editors and compilers count.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The file's path with control and invisible formatting characters escaped: a spec
    /// file's name is the spec author's, and would otherwise reach a terminal as it is.
    public var description: String { "\(Names.escapingControls(file)):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}
