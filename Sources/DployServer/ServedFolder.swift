import Foundation
import Hummingbird
import Logging

/// `output.http` as `FileMiddleware` reads it, confined to the folder: a request is answered
/// only with a file whose real path, every symlink resolved, is inside the folder's real path,
/// and that passes through no hidden name below it. Anything else is as if it did not exist
/// (the routes then answer 404), so a link placed in the folder (`x -> /etc/shadow`, or into
/// the controller's state and secrets) discloses nothing, not even that it is there.
///
/// The folder itself is resolved at each request, so it may be a symlink (an operator's
/// `output.http -> /srv/boot`) and may appear after the server starts (the first apply makes
/// it). Links inside that stay inside are served: the file is found by its real path.
/// FileMiddleware keeps doing the rest (percent-decoding, refusing `..`, Range, HEAD,
/// ETag and If-None-Match, content types), handed the real path as the file's identifier.
///
/// What this does not stop: someone who can write into the folder swapping a path for a link
/// between the check and the open. That needs write access to `output.http`, which is the
/// operator's and dploy's alone; it is not what a symlink left there by mistake can do.
struct ServedFolder: FileProvider {
    typealias FileAttributes = LocalFileSystem.FileAttributes
    /// The file's real path.
    typealias FileIdentifier = String

    let folder: String
    /// Reads files by absolute path: every identifier handed to it is a real path checked here.
    private let files: LocalFileSystem

    init(_ folder: String) {
        self.folder = folder
        var logger = Logger(label: "dploy.http")
        logger.logLevel = .warning  // it announces its root, "/", which would say nothing useful
        files = LocalFileSystem(rootFolder: "/", threadPool: .singleton, logger: logger)
    }

    /// `path` is the request's, percent-decoded, with `..` already refused by FileMiddleware.
    func getFileIdentifier(_ path: String) -> String? {
        guard let root = Self.realPath(folder), let real = Self.realPath(root + "/" + path.drop { $0 == "/" }) else { return nil }
        guard real != root else { return real }
        let base = root == "/" ? "/" : root + "/"
        guard real.hasPrefix(base) else { return nil }
        guard !real.dropFirst(base.count).split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { return nil }
        return real
    }

    func getAttributes(id: String) async throws -> FileAttributes? {
        try await files.getAttributes(id: id)
    }

    func loadFile(id: String, context: some RequestContext) async throws -> ResponseBody {
        try await files.loadFile(id: id, context: context)
    }

    func loadFile(id: String, range: ClosedRange<Int>, context: some RequestContext) async throws -> ResponseBody {
        try await files.loadFile(id: id, range: range, context: context)
    }

    /// The path with every symlink, `.` and `..` resolved (realpath(3)); nil when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
