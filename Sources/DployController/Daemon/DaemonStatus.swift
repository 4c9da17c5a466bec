import DployApply
import DployGit
import DployPlan
import DploySpec
import Foundation

/// What the daemon is doing and did last: served at `GET /v1/status`, written to
/// `STATE/daemon-status.json` after every run so that `dploy status` can read it without
/// credentials, and while the daemon is down.
public struct DaemonStatus: Codable, Sendable, Equatable {
    /// How the daemon treats a plan: `apply`, `plan-only`, `suspended`, `standby`, or
    /// `replica` (a shared store's non-leader: it writes its own files, no BMC steps or tasks)
    /// (another daemon holds the store's leader lock).
    public enum Role: String, Codable, Sendable {
        case apply
        case planOnly = "plan-only"
        case suspended
        case standby
        /// Does not lead a shared store: writes its own output folders and serves boots;
        /// the leader runs the BMC steps and tasks.
        case replica
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
    /// What stops a firmware rollout in the last run's plan: halted (and why), or outside its
    /// window (and when it opens). nil from a dploy that wrote none.
    public var rollouts: [String]?
    public var source: SourceStatus?

    public static func read(from path: String) throws -> DaemonStatus? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try JSONDecoder.dploy.decode(DaemonStatus.self, from: data)
    }

    public func write(to path: String) throws {
        try AtomicFile.write(Array(JSONEncoder.dploy.encode(self)), to: path, mode: FileModes.state, folderMode: FileModes.stateFolder)
    }
}

extension DaemonStatus {
    /// A status file written by a dploy whose plans had another JSON form still reads: its
    /// pending plan is dropped (the next run plans again), everything else is kept.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        pid = try container.decode(Int32.self, forKey: .pid)
        startedAt = try container.decode(Date.self, forKey: .startedAt)
        role = try container.decode(Role.self, forKey: .role)
        roleReason = try container.decodeIfPresent(String.self, forKey: .roleReason)
        runs = try container.decode(Int.self, forKey: .runs)
        lastRun = try container.decodeIfPresent(Run.self, forKey: .lastRun)
        lastError = try container.decodeIfPresent(String.self, forKey: .lastError)
        nextRunAt = try container.decodeIfPresent(Date.self, forKey: .nextRunAt)
        do {
            pendingPlan = try container.decodeIfPresent(Plan.self, forKey: .pendingPlan)
        } catch is PlanFormatError {
            pendingPlan = nil
        }
        source = try container.decodeIfPresent(SourceStatus.self, forKey: .source)
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
