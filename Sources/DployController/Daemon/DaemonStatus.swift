import DployApply
import DployGit
import DployPlan
import Foundation

/// What the daemon is doing and did last: served at `GET /v1/status`, written to
/// `STATE/daemon-status.json` after every run so that `dploy status` can read it without
/// credentials, and while the daemon is down.
public struct DaemonStatus: Codable, Sendable, Equatable {
    /// How the daemon treats a plan: `apply`, `plan-only`, `suspended`, or `standby`
    /// (another daemon holds the store's leader lock).
    public enum Role: String, Codable, Sendable {
        case apply
        case planOnly = "plan-only"
        case suspended
        case standby
    }

    public struct Run: Codable, Sendable, Equatable {
        public enum Result: String, Codable, Sendable, CaseIterable {
            /// The plan was applied.
            case converged
            /// Nothing to change.
            case unchanged
            /// Changes are pending and were not applied (plan-only, suspended, standby).
            case planned
            case failed
        }

        public var trigger: String
        public var startedAt: Date
        public var finishedAt: Date
        public var result: Result
        /// The commit (or folder) the run planned from.
        public var source: String?
        /// One line: what was applied, or why nothing was.
        public var message: String
        /// Seconds spent in each step (load, publish, plan, apply, count), to see where a
        /// slow run spends its time.
        public var steps: [String: Double] = [:]
        public var seconds: Double { finishedAt.timeIntervalSince(startedAt) }
    }

    public var pid: Int32
    public var startedAt: Date
    public var role: Role
    /// Why the role is what it is, when it is not `apply` ("mode: plan-only in dploy.yaml").
    public var roleReason: String?
    public var runs: Int
    public var lastRun: Run?
    public var lastError: String?
    public var nextRunAt: Date?
    /// The plan of the last run when it was not applied: what converging would change.
    public var pendingPlan: Plan?
    public var source: SourceStatus?

    public static func read(from path: String) throws -> DaemonStatus? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try JSONDecoder.dploy.decode(DaemonStatus.self, from: data)
    }

    public func write(to path: String) throws {
        try AtomicFile.write(Array(JSONEncoder.dploy.encode(self)), to: path)
    }
}

extension JSONEncoder {
    /// ISO 8601 dates and sorted keys: files and API answers that diff well.
    public static var dploy: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    public static var dploy: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
