import CGit2

/// A libgit2 call that failed, with libgit2's own message.
public struct GitError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var code: Int32
    public var message: String

    public var description: String { "\(operation): \(message)" }

    /// Turns a libgit2 return code into a thrown error carrying `git_error_last()`'s text.
    @discardableResult
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
        guard code < 0 else { return code }
        let last = git_error_last()
        let message = last?.pointee.message.map { String(cString: $0) } ?? "libgit2 error \(code)"
        throw GitError(operation: operation(), code: code, message: message)
    }
}

/// libgit2 must be initialised once per process before any other call.
enum LibGit2 {
    private static let initialised: Bool = {
        git_libgit2_init()
        return true
    }()

    static func ensureInitialised() { _ = initialised }
}
