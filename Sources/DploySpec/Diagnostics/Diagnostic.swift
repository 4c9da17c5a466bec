/// One problem found while loading desired state, printed as
/// `file:line:column: error: message` so editors and CI logs can jump to it.
public struct Diagnostic: Hashable, Sendable, Comparable, CustomStringConvertible, Error {
    public var location: SourceLocation
    public var message: String

    /// A message quotes what the file holds (a key, a value, a YAML error's context): a control
    /// character or line break in it is written as an escape, or it would forge a line of
    /// `dploy validate`'s output or the daemon's log, or reach a terminal as an escape sequence.
    public init(_ message: String, at location: SourceLocation) {
        self.message = Names.escapingControls(message)
        self.location = location
    }

    public var description: String { "\(location): error: \(message)" }

    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        (lhs.location, lhs.message) < (rhs.location, rhs.message)
    }
}
