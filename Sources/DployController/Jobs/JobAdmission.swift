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
/// gate uses, over the members `Rollout.isMember` names, from the members' newest jobs in the
/// store. Where the claim knows less than the plan did, it defers to the plan: the plan saw
/// the failures that had finished when it queued the job, so a claim halts only once a
/// failure has finished since (else a claim that counted one the plan did not would cancel
/// what every plan queues again). What it knows less: BIOS and RAID readings are not in the
/// store, so for a group's rollout a failed job counts whether or not its settings were set
/// since; for a baseline the stored firmware inventory says whether the flash is still owed.
///
/// A job `dploy jobs retry` queued again passes the halt: the retry is the operator's own
/// act, on one machine. And a reinstall's boot-once or power cycle queued behind a BIOS or
/// RAID job that was cancelled is cancelled too: those settings had to be pending at that
/// reboot, and the next plan queues the reinstall again after them.
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
        if job.kind == .boot || job.kind == .power {
            do {
                return try settingsCancelled(before: job)
            } catch {
                return "cannot tell from the store whether the BIOS and RAID steps before this reinstall ran: \(error)"
            }
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
                if try !isRetry(job), let halt = try halt(of: rollout, for: job, resolver: resolver) { return halt }
            } catch {
                // Not known: better not to start than to start past a halt.
                return "cannot tell from the store whether rollout \(rollout.name) is halted: \(error)"
            }
        }
        // A flash or a RAID change never runs under an installer or an imaging run.
        guard job.kind == .firmware || job.kind == .raid else { return nil }
        let mac = machine.mac.value
        do {
            // The machine's own attempts, not every machine's latest: a claim reads what it checks.
            if let attempt = try store.installAttempts(mac).last, attempt.finishedAt == nil, attempt.failedAt == nil {
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

    /// Why `rollout` is halted for `job`, or nil. Only members with a failed job of a kind the
    /// rollout governs can count, so only those are resolved and read: a claim neither
    /// resolves the whole fleet nor reads every machine's jobs.
    private func halt(of rollout: Rollout, for job: BMCJob, resolver: DefaultsResolver) throws -> String? {
        let kinds: Set<BMCJobKind> = if case .baseline = rollout.subject { [.firmware] } else { [.bios, .raid] }
        // Cheap first: a table that holds no more failed jobs of these kinds than the rollout
        // tolerates cannot halt it, and is most tables; only then is every one read.
        guard try store.bmcJobs(states: [.failed], kinds: kinds, machine: nil, limit: rollout.policy.maxFailures + 1).count
                > rollout.policy.maxFailures else { return nil }
        let resumedAt = try store.rolloutResumes()[rollout.name]
        let failed = try store.bmcJobs(states: [.failed], kinds: kinds, machine: nil, limit: Int.max)
            .filter { ($0.finishedAt ?? .distantPast) > (resumedAt ?? .distantPast) }
        // Nothing failed since the plan queued this job: the plan's word stands (see above).
        guard failed.count > rollout.policy.maxFailures, failed.contains(where: { ($0.finishedAt ?? .distantPast) >= job.createdAt }) else { return nil }
        var readings: [MACAddress: BMCRecord]?
        let members = try Set(failed.map(\.machine)).compactMap { name -> EffectiveMachine? in
            guard let machine = fleet.machine(named: name) else { return nil }
            let effective = resolver.resolve(machine)
            if readings == nil, case .baseline = rollout.subject { readings = try store.bmcReadings() }
            return rollout.isMember(effective, firmware: readings?[machine.mac.value]?.firmware) ? effective : nil
        }
        guard members.count > rollout.policy.maxFailures else { return nil }
        // Their newest job per step: a failure followed by a success of the same step is over.
        var newest: [String: [BMCJob]] = [:]
        for member in members {
            let jobs = try store.bmcJobs(states: nil, kinds: kinds, machine: member.name, limit: Int.max)
            newest[member.name] = Dictionary(jobs.map { ($0.step, $0) }) { first, second in first.id > second.id ? first : second }.values.map { $0 }
        }
        let failures = rollout.failures(of: members, jobs: newest, resumedAt: resumedAt) { member, job in
            // A flash the stored inventory shows applied is not owed any more. (BIOS and RAID
            // readings are not stored: counted, as said above.)
            guard let firmware = readings?[member.machine.mac.value]?.firmware else { return true }
            return rollout.stillOwes(job, of: member, firmware: firmware)
        }
        guard failures.count > rollout.policy.maxFailures, failures.contains(where: { ($0.job.finishedAt ?? .distantPast) >= job.createdAt }) else { return nil }
        let named = failures.map { "\($0.machine) (job \($0.job.id))" }.joined(separator: ", ")
        return "rollout \(rollout.name) is halted: \(failures.count) failed, more than maxFailures \(rollout.policy.maxFailures) "
            + "(\(named)); `dploy rollout resume \(rollout.name)` continues it"
    }

    /// Whether `job` is `dploy jobs retry`'s: the machine's previous job for the same step
    /// failed asking for the same thing (or, a flash, was skipped). A plan queues a failed
    /// step again only once what it asks changed (a rollout holds a failed member's BIOS and
    /// RAID steps, BMCJobGate a failed or skipped flash), so the same payload again is the
    /// operator's retry. A skipped BIOS or RAID step the plan queues again by itself.
    private func isRetry(_ job: BMCJob) throws -> Bool {
        let previous = try store.bmcJobs(states: nil, kinds: [job.kind], machine: job.machine, limit: Int.max)
            .first { $0.step == job.step && $0.id < job.id }
        guard let previous, previous.payload == job.payload else { return false }
        return previous.state == .failed || (previous.state == .skipped && job.kind == .firmware)
    }

    /// Why a reinstall's boot-once or power cycle may not start: a BIOS or RAID job of the
    /// machine queued ahead of it (lower id) was cancelled after it was queued, so the plan
    /// that queued them both counted on settings that are not pending. nil otherwise, and for
    /// every other boot or power step.
    private func settingsCancelled(before job: BMCJob) throws -> String? {
        guard (try? Action(jobPayload: job.payload))?.startsReinstall == true else { return nil }
        let cancelled = try store.bmcJobs(states: [.cancelled], kinds: [.bios, .raid], machine: job.machine, limit: 16)
            .first { $0.id < job.id && ($0.finishedAt ?? .distantPast) >= job.createdAt }
        guard let cancelled else { return nil }
        return "job \(cancelled.id) (\(cancelled.step)), which had to run before this reinstall, was cancelled: the next plan starts the reinstall again after it"
    }
}
