import DploySpec
import Foundation
import Hummingbird
import Logging

/// `output.http` as `FileMiddleware` reads it, confined to the folder (`ConfinedFolder`, which
/// the TFTP server shares): a file outside it, or behind a hidden name, is as if it did not
/// exist, and the routes then answer 404. FileMiddleware keeps doing the rest
/// (percent-decoding, refusing `..`, Range, HEAD, ETag and If-None-Match, content types),
/// handed the real path as the file's identifier.
struct ServedFolder: FileProvider {
    typealias FileAttributes = LocalFileSystem.FileAttributes
    /// The file's real path.
    typealias FileIdentifier = String

    let folder: ConfinedFolder
    /// Reads files by absolute path: every identifier handed to it is a real path checked here.
    private let files: LocalFileSystem

    init(_ folder: String) {
        self.folder = ConfinedFolder(folder)
        var logger = Logger(label: "dploy.http")
        logger.logLevel = .warning  // it announces its root, "/", which would say nothing useful
        files = LocalFileSystem(rootFolder: "/", threadPool: .singleton, logger: logger)
    }

    /// `path` is the request's, percent-decoded, with `..` already refused by FileMiddleware.
    func getFileIdentifier(_ path: String) -> String? {
        folder.realPath(of: path)
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
}
