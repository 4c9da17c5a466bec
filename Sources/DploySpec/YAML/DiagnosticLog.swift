import Yams

/// Collects the diagnostics of one file while its documents are decoded.
package final class DiagnosticLog {
    let file: String
    package private(set) var diagnostics: [Diagnostic] = []

    package init(file: String) { self.file = file }

    func location(_ mark: Mark?) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    package func error(_ message: String, at mark: Mark?) {
        diagnostics.append(Diagnostic(message, at: location(mark)))
    }

    package func append(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }
}

/// A value and where it was written, so later checks (duplicates, references) can point at it.
public struct Located<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}
