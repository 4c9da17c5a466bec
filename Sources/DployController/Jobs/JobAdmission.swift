import DployInventory
import DployPlan
import DploySpec
import Foundation

/// What a plan checked before it queued a flash, checked again when a worker takes the job:
/// a job may wait in the queue (more queued than workers), and meanwhile its rollout's window
/// may close, its machine begin installing or imaging, or leave this site's fleet. Such a job is cancelled, not run
/// and not failed; the next plan queues it again once it is allowed.
///
/// A halted rollout needs no check here: the plan queues no more than `maxParallel` of it,
/// and those already queued ran before the failures that halt it were known.
struct JobAdmission: Sendable {
    let fleet: Fleet
    let store: any Store
    let now: Date

    /// Why `job` may not start now, or nil.
    func refusal(for job: BMCJob) -> String? {
        // Moved to another site (or out of git) since it was queued: that site's leader plans
        // it again if it still drifts. Not a failure: a failure would hold the machine until
        // `dploy jobs retry`, skip its other jobs and count against its rollout.
        guard let machine = fleet.machine(named: job.machine) else {
            return "machine '\(job.machine)' is no longer in this controller's desired state (moved to another site, or removed)"
        }
        // A flash or a RAID change never runs under an installer or an imaging run.
        guard job.kind == .firmware || job.kind == .raid else { return nil }
        let settings = DefaultsResolver(groups: fleet.groups).resolve(machine).settings
        if job.kind == .firmware, let name = settings.firmware, let window = fleet.firmwareBaseline(named: name)?.rollout?.window, !window.isOpen(at: now) {
            let next = window.nextOpening(after: now).map { "; it opens next at \($0.formatted(.iso8601))" } ?? ""
            return "rollout \(name) is outside its window (\(window.text)) now\(next)"
        }
        let mac = machine.mac.value
        do {
            if let attempt = try store.latestAttempts()[mac], attempt.finishedAt == nil, attempt.failedAt == nil {
                return "the machine is installing generation \(attempt.generation): no flash or RAID change runs under an installer"
            }
            if let run = try store.runningTaskRuns(actions: TaskActionKind.imaging, at: now).first(where: { $0.mac == mac }) {
                return "the machine is being imaged by task '\(run.key.task)'"
            }
        } catch {
            // Not known: better not to flash than to flash under an installer.
            return "cannot tell from the store whether the machine is installing: \(error)"
        }
        return nil
    }
}
