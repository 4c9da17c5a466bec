import DployInventory
import Foundation

/// A BMC job as `/v1/jobs`, `dploy jobs --json` and `dploy status --json` show it: the row
/// without its payload (the plan's action, which `step` names), with where it stands in words.
public struct BMCJobView: Encodable, Sendable, Hashable {
    public var id: Int64
    public var machine: String
    public var mac: String?
    public var kind: String
    public var step: String
    public var state: String
    /// "queued", "in progress, 40 % (Writing)", "done", "failed: …".
    public var progress: String
    public var percent: Int?
    /// The BMC's own word for where it stands (`Writing`, `Running`).
    public var status: String?
    /// How the update is followed (`task PATH`, `hpe PATH`).
    public var tracking: String?
    public var createdAt: Date
    public var startedAt: Date?
    public var submittedAt: Date?
    public var finishedAt: Date?
    public var error: String?

    public init(_ job: BMCJob) {
        id = job.id
        machine = job.machine
        mac = job.mac?.description
        kind = job.kind.rawValue
        step = job.step
        state = job.state.rawValue
        progress = job.progressText
        percent = job.percent
        status = job.status
        tracking = job.tracking
        createdAt = job.createdAt
        startedAt = job.startedAt
        submittedAt = job.submittedAt
        finishedAt = job.finishedAt
        error = job.error
    }

    /// One line: `job 7 web-01 firmware iLO 5 3.08: in progress, 40 % (Writing)`.
    public var line: String { "job \(id) \(machine) \(step): \(progress)" }
}

extension Store {
    /// Queues a failed or skipped job again, with the jobs its failure skipped: a new row
    /// each (the old ones stay as history), the same payload. Returns the new jobs; throws
    /// when `id` is not a failed or skipped job.
    public func retryBMCJob(_ id: Int64, at: Date) throws -> [BMCJob] {
        let all = try bmcJobs(states: [.failed, .skipped], machine: nil, limit: Int.max)
        guard let job = all.first(where: { $0.id == id }) else {
            throw BMCJobRetryError(message: "no failed or skipped BMC job \(id) (see dploy jobs --all)")
        }
        let skippedByIt = all.filter { $0.machine == job.machine && $0.state == .skipped && $0.error?.contains("job \(id) ") == true }
        return try ([job] + skippedByIt.sorted { $0.id < $1.id }).compactMap { old in
            var again = old
            again.createdAt = at
            return try enqueueBMCJob(again)
        }
    }
}

public struct BMCJobRetryError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
