import Foundation
import DployInventory
import DploySpec

/// A rollout (`Rollout`: a baseline's flashes, or a group's BIOS and RAID settings) applied to
/// the steps the machines' plans hold: which may start now, and a note per phase naming every
/// machine and when its turn comes. Pure: the time of day is `ObservedState.now`, failures are
/// the machines' newest jobs, resumes are `ObservedState.rolloutResumes`. One gate for every
/// kind of rollout: only who the members are and when one is done differ (`members`).
///
/// - Members are in name order: the first `canaries`, then waves of the rest at the policy's
///   cumulative shares (rounded up). Who is one is `Rollout.isMember`: a baseline's are the
///   machines with a BMC address whose effective `firmware` is the baseline and whose BMC
///   reports a model it lists; a group's, those with a BMC address that take `bios.attributes`
///   or `storage.logicalDrives` from its defaults.
/// - A member is *done* when its BMC reports what the rollout asks: every component at the
///   baseline's version; the BIOS attributes current *or pending* (they apply at the next
///   reboot, and dploy does not reboot for BIOS: a rollout that waited for one would wait for
///   an operator; the BMC read that shows them is the healthy BMC); and the logical drives the
///   controller reports (a SmartStorageConfig change pending for the next reboot is not done:
///   only the controller's POST builds and checks the array). *Failed* when its newest job for
///   a step it still owes failed, and it is not started again on its own (`dploy jobs retry`,
///   or an edit of what it owes); *in flight* while one is queued or running. *Not counted*
///   when the settings cannot reach it until someone acts: its BIOS lacks an attribute, a
///   destructive RAID change has no permission, or its BMC's settings could not be read; a
///   member never read yet is *unread* and blocks its phase until the first read.
/// - The phase under way is the first with a member neither done, failed nor not counted; later phases
///   start nothing. In it, pending members start in name order, no more than `maxParallel`
///   at once, only inside the window, and none once the failures since the last resume
///   exceed `maxFailures` (halted; counted by `Rollout.failures`, the rule a worker's claim
///   checks too).
/// - Once every member is done or failed, the rollout is over and adds no note.
enum RolloutGate {
    struct Member {
        var effective: EffectiveMachine
        var plan: Int?
        var state: State
        /// The plan steps of it that this rollout holds.
        var holds: Set<Action.Kind>
        /// The job steps it still owes ("raid " for any controller's).
        var owed: [String] = []
        var name: String { effective.name }

        func owes(_ job: BMCJob) -> Bool {
            owed.contains { $0 == job.step || ($0 == "raid " && job.step.hasPrefix($0)) }
        }

        /// Whether its phase may finish without it.
        var isSettled: Bool {
            switch state {
            case .done, .failed, .notCounted: true
            case .inFlight, .pending, .waiting, .unread: false
            }
        }
    }

    enum State: Equatable {
        case done, failed, inFlight, pending
        /// Flashed or sent (or held by an install or imaging) but not reporting what it owes yet.
        case waiting(String)
        /// Its BMC was never read yet: whether it is done is not known until the first read.
        case unread
        /// What it owes cannot be sent until someone acts (why): waiting for it would hold the
        /// rollout forever, so its phase finishes without it and the note names it.
        case notCounted(String)
    }

    /// Applies `rollout` to the machines planned (each effective machine and its plan's index).
    static func apply(_ rollout: Rollout, machines: [(effective: EffectiveMachine, mac: MACAddress, plan: Int?)],
                      observed: ObservedState, plans: inout [MachinePlan], notes: inout [Reason]) {
        let members = machines.sorted { $0.effective.name < $1.effective.name }.compactMap { machine in
            Self.member(machine.effective, mac: machine.mac, plan: machine.plan, of: rollout, observed: observed, plans: plans)
        }
        guard !members.isEmpty else { return }
        let policy = rollout.policy

        // Phases: canaries, then the waves of the rest.
        let canaries = min(policy.canaries, members.count)
        var phases: [(label: String, members: ArraySlice<Member>)] = []
        if canaries > 0 { phases.append(("canaries", members[..<canaries])) }
        let rest = members[canaries...]
        var start = rest.startIndex
        for (index, share) in policy.waves.enumerated() {
            let end = rest.startIndex + Int((Double(rest.count) * Double(share) / 100).rounded(.up))
            if end > start { phases.append(("wave \(index + 1) (\(share)%)", rest[start..<min(end, rest.endIndex)])) }
            start = max(start, min(end, rest.endIndex))
        }

        let owing = Dictionary(members.map { ($0.name, $0) }) { first, _ in first }
        let failures = rollout.failures(of: members.map(\.effective), jobs: observed.bmcJobs, resumedAt: observed.rolloutResumes[rollout.name],
                                        // A member not read cannot say it no longer owes a failed step: it counts.
                                        owes: { machine, job in owing[machine.name].map { $0.state == .unread || $0.owes(job) } ?? true })
            .map { "\($0.machine) (job \($0.job.id) \($0.job.progressText))" }
        let halted = failures.count > policy.maxFailures
        let now = observed.now
        let windowOpen = policy.window.map { window in now.map(window.isOpen) ?? false } ?? true
        let inFlight = members.count { $0.state == .inFlight }
        var allowed = policy.maxParallel.map { max(0, $0 - inFlight) } ?? Int.max
        let current = phases.firstIndex { phase in phase.members.contains { !$0.isSettled } }
        // A rollout that is over says nothing more: a quiet fleet's plan stays short. (Its
        // failed machines keep their own `bmcJobFailed` notes.) Its failed members stay held:
        // a BIOS or RAID step would otherwise be queued again at every run.
        guard let current else {
            hold(members.filter { $0.state == .failed }, of: rollout, plans: &plans, notes: &notes)
            return
        }
        let name = "rollout \(rollout.name)"
        let isFirmware = if case .baseline = rollout.subject { true } else { false }
        let reports = isFirmware ? "the baseline's versions" : "the group's settings"

        // Failed members are not started again by the rollout (a BIOS or RAID step would be planned again on every run).
        var held = members.filter { $0.state == .failed }
        for (index, phase) in phases.enumerated() {
            let names = phase.members.map(\.name).joined(separator: ", ")
            let done = phase.members.count { $0.state == .done }, failed = phase.members.count { $0.state == .failed }
            let notCounted = phase.members.compactMap { member in
                if case .notCounted(let why) = member.state { "\(member.name) (\(why))" } else { nil }
            }
            let notCountedText = notCounted.isEmpty ? nil : "not counted, until someone acts: \(notCounted.joined(separator: ", "))"
            var when: String
            if index < current {
                when = "done" + (failed > 0 ? ", \(failed) failed" : "") + (notCountedText.map { "; \($0)" } ?? "")
            } else if index > current {
                when = "after \(phases[index - 1].label) finish and report \(reports)"
                held += phase.members
            } else {
                var starting: [String] = []
                for member in phase.members where member.state == .pending {
                    if !halted, windowOpen, allowed > 0 {
                        allowed -= 1
                        starting.append(member.name)
                    } else {
                        held.append(member)
                    }
                }
                let flying = phase.members.count { $0.state == .inFlight }
                let waiting = phase.members.compactMap { member in
                    if case .waiting(let why) = member.state { isFirmware ? member.name : "\(member.name) (\(why))" } else { nil }
                }
                let unread = phase.members.filter { $0.state == .unread }.map(\.name)
                var parts = ["\(done) of \(phase.members.count) done"]
                if failed > 0 { parts.append("\(failed) failed") }
                if flying > 0 { parts.append("\(flying) \(isFirmware ? "flashing" : "in flight")") }
                if !starting.isEmpty { parts.append("starting now: \(starting.joined(separator: ", "))") }
                let later = phase.members.count { $0.state == .pending } - starting.count
                if later > 0 { parts.append("\(later) waiting for a free slot" + (policy.maxParallel.map { " (maxParallel \($0))" } ?? "")) }
                if !waiting.isEmpty {
                    parts.append((isFirmware ? "not reporting the new versions yet: " : "not reporting the settings yet: ") + waiting.joined(separator: ", "))
                }
                if !unread.isEmpty {
                    parts.append("BMC \(isFirmware ? "inventory" : "settings") not read (the phase waits for a reading; a read that failed is tried again): \(unread.joined(separator: ", "))")
                }
                if let notCountedText { parts.append(notCountedText) }
                when = "under way: " + parts.joined(separator: "; ")
            }
            notes.append(Reason(.rolloutPhase, "\(name), \(phase.label): \(names): \(when)"))
        }
        if halted {
            notes.append(Reason(.rolloutHalted, "\(name) halted: \(failures.count) failed, more than maxFailures \(policy.maxFailures): "
                                + "\(failures.joined(separator: "; ")); nothing more starts until `dploy rollout resume \(rollout.name)` or \(rollout.edit)"))
        } else if !windowOpen, let window = policy.window {
            let next = now.flatMap(window.nextOpening(after:)).map { "; it opens next at \($0.formatted(.iso8601))" } ?? ""
            notes.append(Reason(.rolloutWindowClosed, "\(name): outside its window (\(window.text)): nothing starts\(next)"))
        }
        hold(held, of: rollout, plans: &plans, notes: &notes)
    }

    /// Takes `members`' rollout steps out of their plans, saying why; a BIOS or RAID member's
    /// reinstall goes with them.
    private static func hold(_ members: [Member], of rollout: Rollout, plans: inout [MachinePlan], notes: inout [Reason]) {
        let name = "rollout \(rollout.name)"
        let isFirmware = if case .baseline = rollout.subject { true } else { false }
        for member in members {
            guard let index = member.plan, plans[index].actions.contains(where: { member.holds.contains($0.kind) }) else { continue }
            plans[index].actions.removeAll { member.holds.contains($0.kind) }
            let what = isFirmware ? "firmware" : "its BIOS and RAID steps"
            let message = member.state == .failed
                ? "\(what) failed in \(name): not started again until `dploy jobs retry` or \(rollout.edit)"
                : (isFirmware ? "firmware waits" : "its BIOS and RAID steps wait") + " for \(name) (see its notes)"
            plans[index].reasons.append(Reason(.rolloutWaiting, message))
            // The planner put the BIOS and RAID steps before a reinstall's boot-once and power
            // cycle so that they are pending at that reboot: without them it would install onto
            // the old array or with the old BIOS, and a RAID deletion would then lose the
            // reinstall's permission. The reinstall waits with them. (A flash goes after it.)
            // Said in a note too: with nothing else to do, the machine's plan (and its reasons) is dropped.
            if !isFirmware, plans[index].actions.contains(where: \.startsReinstall) {
                plans[index].actions.removeAll(where: \.startsReinstall)
                let message = "its reinstall waits too: its BIOS and RAID settings go first"
                plans[index].reasons.append(Reason(.rolloutWaiting, message))
                notes.append(Reason(.rolloutWaiting, "\(member.name): \(message) (\(name))"))
            }
        }
    }

    /// One machine as a member of `rollout`, or nil when it is none (`Rollout.isMember`).
    static func member(_ effective: EffectiveMachine, mac: MACAddress, plan: Int?, of rollout: Rollout, observed: ObservedState,
                       plans: [MachinePlan]) -> Member? {
        guard rollout.isMember(effective, firmware: observed.firmware[mac]) else { return nil }
        let kinds = rollout.kinds(of: effective)
        let holds = Set(kinds.compactMap { kind -> Action.Kind? in
            switch kind {
            case .firmware: .updateFirmware
            case .bios: .setBIOSAttributes
            case .raid: .configureRAID
            default: nil
            }
        })
        var member = Member(effective: effective, plan: plan, state: .done, holds: holds)
        // What it still owes (job steps; "raid " for any controller), why it may not be planned,
        // and what keeps it from being planned until someone acts.
        var owed: [String] = [], withheld: [String] = [], forGood: [String] = []
        switch rollout.subject {
        case .baseline(let baseline):
            guard let firmware = observed.firmware[mac] else { member.state = .unread; return member }
            owed = FirmwareDrift.plan(machine: effective.name, baseline: baseline, observed: firmware).actions.compactMap { $0.jobStep?.step }
        case .group:
            if kinds.contains(.bios), let bios = effective.settings.bios {
                guard let reading = observed.bios[mac] else {
                    // Not read, or its last read failed (an iLO answers errors while its
                    // machine reboots): whether it is done is not known, so its phase waits.
                    member.state = .unread
                    return member
                }
                let drift = BIOSDrift.plan(machine: effective.name, desired: bios, observed: reading, location: effective.machine.metadata.location)
                owed += drift.actions.compactMap { $0.jobStep?.step }
                if let problem = drift.reasons.first(where: { $0.code == .biosInvalid || $0.code == .biosNoSettings }) {
                    owed.append("bios")
                    forGood.append("BIOS withheld: \(problem.code.rawValue)")
                }
            }
            if kinds.contains(.raid), let storage = effective.settings.storage {
                guard let reading = observed.storage[mac] else {
                    member.state = .unread
                    return member
                }
                if !RAIDDrift.built(storage, on: reading) {
                    // Every controller's step is named `raid CONTROLLER`: a prefix stands for them.
                    owed.append("raid ")
                    // Without allowDestructive (and no reinstall about to follow, which the plan
                    // would have used), a deletion waits for an edit of the spec.
                    let permission: RAIDDrift.Permission? = effective.settings.allowDestructive == true ? .allowDestructive : nil
                    let drift = RAIDDrift.plan(machine: effective.name, desired: storage, observed: reading, permission: permission,
                                               location: effective.machine.metadata.location)
                    if let problem = drift.reasons.first(where: { $0.code == .raidDestructiveWithheld || $0.code == .raidInvalid }) {
                        forGood.append("RAID withheld: \(problem.code.rawValue)")
                    } else {
                        withheld.append("RAID not built yet (pending for the next reboot, or to be sent)")
                    }
                }
            }
        }
        member.owed = owed
        guard !owed.isEmpty else { return member }
        let jobs = (observed.bmcJobs[effective.name] ?? []).filter { job in kinds.contains(job.kind) }
        let planned = plan.map { plans[$0].actions.contains { holds.contains($0.kind) } } ?? false
        if jobs.contains(where: \.state.isActive) {
            member.state = .inFlight
        } else if jobs.contains(where: { member.owes($0) && rollout.countsAsFailure($0, of: effective, resumedAt: nil) }) {
            // Failed whenever it was: a resume forgets the count, not the failure. A group's
            // settings edited since the job no longer match it: then it is pending again.
            member.state = .failed
        } else if planned {
            member.state = .pending
        } else if case .baseline = rollout.subject {
            if jobs.contains(where: { member.owes($0) && $0.state == .skipped }) {
                // Skipped after another step's failure: not flashed again until `dploy jobs
                // retry` (BMCJobGate), like a failure, but that failure counts where it belongs.
                member.state = .failed
            } else {
                member.state = .waiting(jobs.contains { $0.state == .succeeded } ? "flashed, not reporting the new version yet"
                                        : "held back (installing or imaging)")
            }
        } else if let why = forGood.first {
            member.state = .notCounted(why)
        } else {
            member.state = .waiting(withheld.first ?? "settings sent, not reported yet")
        }
        return member
    }
}
