import DploySpec
import Foundation

/// What the controller knows about its source, Flux style: the newest commit fetched, the
/// newest that validated (the desired state in force), the newest applied, and the last
/// error. Kept in a JSON file in the state folder until the store takes it over.
public struct SourceStatus: Codable, Hashable, Sendable {
    public var lastFetched: CommitInfo?
    public var lastGood: CommitInfo?
    public var lastApplied: CommitInfo?
    public var lastError: SourceErrorRecord?
    public var updatedAt: Date?

    public init() {}

    /// Reads the status file; a missing file is an empty status.
    public static func read(from path: String) throws -> SourceStatus {
        guard let data = FileManager.default.contents(atPath: path) else { return SourceStatus() }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(SourceStatus.self, from: data)
        } catch {
            throw SourceStatusError.unreadable(path, String(describing: error))
        }
    }

    /// Writes the status file atomically: a temporary file in the same folder, then a rename.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileModes.createFolders(folder, mode: FileModes.stateFolder) }
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        chmod(path, FileModes.state)
    }
}

public struct SourceErrorRecord: Codable, Hashable, Sendable {
    /// The commit that was refused, when the error is about a commit.
    public var commit: GitObjectID?
    public var message: String
    public var at: Date
}

public enum SourceStatusError: Error, CustomStringConvertible {
    case unreadable(String, String)
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read source status: \(reason)"
        }
    }
}
