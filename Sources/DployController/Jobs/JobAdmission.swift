import DployInventory
import DployPlan
import DploySpec
import Foundation

/// What a plan checked before it queued a flash, a BIOS write or a RAID change, checked again
/// when a worker takes the job: a job may wait in the queue (more queued than workers), and
/// meanwhile its rollout may halt or its window close, its machine begin installing or
/// imaging, or leave this site's fleet. Such a job is cancelled, not run and not failed; the
/// next plan queues it again once it is allowed.
///
/// A halted rollout is checked too: the plan queued up to `maxParallel` of it at once, and
/// when those outnumber the workers, the ones still queued would otherwise run after the
/// failures that halt it. Failures are counted by `Rollout.failures`, the rule the plan's
/// gate uses, from the members' newest jobs in the store.
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
        guard job.kind == .firmware || job.kind == .bios || job.kind == .raid else { return nil }
        let resolver = DefaultsResolver(groups: fleet.groups)
        let effective = resolver.resolve(machine)
        if let rollout = Rollout.governing(job.kind, of: effective, in: fleet) {
            if let window = rollout.policy.window, !window.isOpen(at: now) {
                let next = window.nextOpening(after: now).map { "; it opens next at \($0.formatted(.iso8601))" } ?? ""
                return "rollout \(rollout.name) is outside its window (\(window.text)) now\(next)"
            }
            do {
                if let halt = try halt(of: rollout, resolver: resolver) { return halt }
            } catch {
                // Not known: better not to start than to start past a halt.
                return "cannot tell from the store whether rollout \(rollout.name) is halted: \(error)"
            }
        }
        // A flash or a RAID change never runs under an installer or an imaging run.
        guard job.kind == .firmware || job.kind == .raid else { return nil }
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

    /// Why `rollout` is halted, or nil. Only machines with a failed or skipped newest job can
    /// count, so only those are resolved: a claim does not resolve the whole fleet.
    private func halt(of rollout: Rollout, resolver: DefaultsResolver) throws -> String? {
        // Fewer failed jobs in the whole table than it tolerates: not halted, and the claims of
        // a healthy rollout read no more than that.
        let limit = rollout.policy.maxFailures + 1
        guard try store.bmcJobs(states: [.failed, .skipped], machine: nil, limit: limit).count >= limit else { return nil }
        let resumedAt = try store.rolloutResumes()[rollout.name]
        let finished = try store.latestBMCJobs().filter { $0.state == .failed || $0.state == .skipped }
        guard finished.count > rollout.policy.maxFailures else { return nil }
        let members = Set(finished.map(\.machine)).compactMap { fleet.machine(named: $0).map(resolver.resolve) }
        let failures = rollout.failures(of: members, jobs: Dictionary(grouping: finished, by: \.machine), resumedAt: resumedAt)
        guard failures.count > rollout.policy.maxFailures else { return nil }
        let named = failures.map { "\($0.machine) (job \($0.job.id))" }.joined(separator: ", ")
        return "rollout \(rollout.name) is halted: \(failures.count) failed, more than maxFailures \(rollout.policy.maxFailures) "
            + "(\(named)); `dploy rollout resume \(rollout.name)` continues it"
    }
}
