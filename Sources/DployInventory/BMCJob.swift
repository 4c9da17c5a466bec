import DploySpec
import Foundation

/// Long BMC work (a firmware flash, a BIOS write) as a durable job: recorded before it starts,
/// run by the controller's worker pool, resumed after a restart, never started twice. One
/// row per machine and step; what the step does travels as the plan's action (`payload`),
/// which the store keeps without reading.
public struct BMCJob: Hashable, Sendable {
    /// Given by the store when the job is enqueued; increases with every new job.
    public var id: Int64
    /// The machine's name in git: what the job's BMC is found by when it runs.
    public var machine: String
    /// The machine's MAC when the job was made, for its events and page.
    public var mac: MACAddress?
    /// The site whose leader enqueued the job: only that site's controller claims it (it
    /// alone has the machine in its fleet, and its BMC credentials).
    public var site: String
    public var kind: BMCJobKind
    /// What the job does, in words that identify it (`firmware iLO 5 3.08`, `bios`): a machine
    /// has at most one queued or running job per step.
    public var step: String
    /// The plan's action as JSON (DployPlan's `Action`); the store never reads it.
    public var payload: String
    public var state: BMCJobState
    public var createdAt: Date
    /// When a worker claimed it.
    public var startedAt: Date?
    /// When the request that starts the work on the BMC (SimpleUpdate, the BIOS PATCH) was
    /// about to be sent. A job with this set is never sent that request again: after a
    /// restart it is followed, or failed if nothing says where it stands.
    public var submittedAt: Date?
    public var finishedAt: Date?
    /// How the BMC lets the work be followed, as `RedfishClient.UpdateTracking.text` writes it
    /// (`task /redfish/v1/TaskService/Tasks/22`, `hpe /redfish/v1/UpdateService`, `none`).
    public var tracking: String?
    /// What the BMC last said of it: its state word (`Writing`, `Running`) and percentage.
    public var status: String?
    public var percent: Int?
    /// Why it failed or was skipped.
    public var error: String?

    public init(id: Int64 = 0, machine: String, mac: MACAddress?, site: String = Site.defaultName, kind: BMCJobKind, step: String, payload: String,
                state: BMCJobState = .queued, createdAt: Date, startedAt: Date? = nil, submittedAt: Date? = nil,
                finishedAt: Date? = nil, tracking: String? = nil, status: String? = nil, percent: Int? = nil, error: String? = nil) {
        self.id = id
        self.machine = machine
        self.mac = mac
        self.site = site
        self.kind = kind
        self.step = step
        self.payload = payload
        self.state = state
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.submittedAt = submittedAt
        self.finishedAt = finishedAt
        self.tracking = tracking
        self.status = status
        self.percent = percent
        self.error = error
    }

    /// "running, 40 %", "queued", "failed: …": how plan, status and page say where it stands.
    public var progressText: String {
        switch state {
        case .queued: "queued"
        case .running:
            if let percent { "in progress, \(percent) %" + (status.map { " (\($0))" } ?? "") }
            else if let status { "in progress (\(status))" } else { "in progress" }
        case .succeeded: "done"
        case .failed, .skipped, .cancelled: "\(state.rawValue)" + (error.map { ": \($0)" } ?? "")
        }
    }
}

public enum BMCJobKind: String, Codable, Hashable, Sendable, CaseIterable {
    case firmware, bios
    /// A one-time network boot, or a power step (on, off, cycle): short, but a cycle sent
    /// twice resets a machine mid-POST, so it too is recorded before it is sent.
    case boot, power
    /// A RAID change (SmartStorageConfig, or DMTF volumes), applied at the next reboot or at once.
    case raid
}

public enum BMCJobState: String, Codable, Hashable, Sendable, CaseIterable {
    /// Recorded, waiting for a worker.
    case queued
    /// A worker claimed it (and may have asked the BMC); after a restart it is resumed.
    case running
    case succeeded, failed
    /// Not run: an earlier step of the same machine failed.
    case skipped
    /// Not run: when a worker took it, what the plan checked before queuing it no longer
    /// held (its rollout's window had closed, the machine had begun installing). Not a
    /// failure: the step is planned again, and queued when it is allowed.
    case cancelled

    /// Queued or running: the job still owes its step.
    public var isActive: Bool { self == .queued || self == .running }
}

/// What a worker learned of a running job, written to its row as it goes. Fields left nil
/// keep what the row holds.
public struct BMCJobUpdate: Hashable, Sendable {
    public var submittedAt: Date?
    public var tracking: String?
    public var status: String?
    public var percent: Int?

    public init(submittedAt: Date? = nil, tracking: String? = nil, status: String? = nil, percent: Int? = nil) {
        self.submittedAt = submittedAt
        self.tracking = tracking
        self.status = status
        self.percent = percent
    }
}
