/// One problem found while loading desired state, printed as
/// `file:line:column: error: message` so editors and CI logs can jump to it.
public struct Diagnostic: Hashable, Sendable, Comparable, CustomStringConvertible, Error {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): error: \(message)" }

    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        (lhs.location, lhs.message) < (rhs.location, rhs.message)
    }
}
