import Foundation
import DployInventory
import DploySpec

/// A baseline's rollout applied to the firmware steps the machines' plans hold: which may
/// start now, and a note per phase naming every machine and when its turn comes. Pure: the
/// time of day is `ObservedState.now`, failures are the machines' newest jobs, resumes are
/// `ObservedState.rolloutResumes`.
///
/// - Members are the machines whose effective `firmware` is the baseline and whose BMC
///   reports a model it lists, in name order: the first `canaries`, then waves of the rest
///   at the policy's cumulative shares (rounded up).
/// - A member is *done* when its BMC reports every component at the baseline's version,
///   *failed* when its newest job for a drifting component failed (or was skipped), *in
///   flight* while one is queued or running.
/// - The phase under way is the first with a member neither done nor failed; later phases
///   start nothing. In it, pending members start in name order, no more than `maxParallel`
///   flashes of the baseline at once, only inside the window, and none once the failures
///   since the last resume exceed `maxFailures` (halted).
/// - Once every member is done or failed, the rollout is over and adds no note.
enum RolloutGate {
    struct Member {
        var name: String
        var plan: Int?
        var state: State
        var failure: String?
    }

    enum State: Equatable {
        case done, failed, inFlight, pending
        /// Flashed (or held by an install or imaging) but not reporting the versions yet.
        case waiting(String)
        /// Its BMC's inventory was not read: whether it is done is not known.
        case unread
    }

    /// Members of `baseline` from the machines planned (name, its plan's index, its MAC).
    static func apply(_ baseline: FirmwareBaseline, policy: RolloutPolicy, machines: [(name: String, mac: MACAddress, plan: Int?)],
                      observed: ObservedState, plans: inout [MachinePlan], notes: inout [Reason]) {
        let steps = Set(baseline.components.map { "firmware \($0.name) \($0.version)" })
        let resumedAt = observed.rolloutResumes[baseline.name]
        var members: [Member] = []
        for machine in machines.sorted(by: { $0.name < $1.name }) {
            guard let firmware = observed.firmware[machine.mac] else {
                members.append(Member(name: machine.name, plan: machine.plan, state: .unread))
                continue
            }
            let drift = FirmwareDrift.plan(machine: machine.name, baseline: baseline, observed: firmware)
            if drift.reasons.contains(where: { $0.code == .firmwareModelMismatch }) { continue }
            let owed = Set(drift.actions.compactMap { $0.jobStep?.step })
            let jobs = (observed.bmcJobs[machine.name] ?? []).filter { steps.contains($0.step) }
            let planned = machine.plan.map { plans[$0].actions.contains { $0.kind == .updateFirmware } } ?? false
            var member = Member(name: machine.name, plan: machine.plan, state: .done)
            if owed.isEmpty {
                member.state = .done
            } else if jobs.contains(where: \.state.isActive) {
                member.state = .inFlight
            } else if let failed = jobs.first(where: { owed.contains($0.step) && ($0.state == .failed || $0.state == .skipped) }) {
                member.state = .failed
                // Failures before the last resume no longer count towards the halt.
                if resumedAt.map({ (failed.finishedAt ?? .distantPast) > $0 }) ?? true {
                    member.failure = "job \(failed.id) \(failed.progressText)"
                }
            } else if planned {
                member.state = .pending
            } else {
                member.state = .waiting(jobs.contains { $0.state == .succeeded } ? "flashed, not reporting the new version yet"
                                        : "held back (installing or imaging)")
            }
            members.append(member)
        }
        guard !members.isEmpty else { return }

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

        let failures = members.compactMap { member in member.failure.map { "\(member.name) (\($0))" } }
        let halted = failures.count > policy.maxFailures
        let now = observed.now
        let windowOpen = policy.window.map { window in now.map(window.isOpen) ?? false } ?? true
        let inFlight = members.count { $0.state == .inFlight }
        var allowed = policy.maxParallel.map { max(0, $0 - inFlight) } ?? Int.max
        let current = phases.firstIndex { phase in phase.members.contains { $0.state != .done && $0.state != .failed } }
        // A rollout that is over says nothing more: a quiet fleet's plan stays short. (Its
        // failed machines keep their own `bmcJobFailed` notes.)
        guard current != nil else { return }
        let name = "rollout \(baseline.name)"

        var held: [Int] = []
        for (index, phase) in phases.enumerated() {
            let names = phase.members.map(\.name).joined(separator: ", ")
            let done = phase.members.count { $0.state == .done }, failed = phase.members.count { $0.state == .failed }
            var when: String
            if index < current! {
                when = "done" + (failed > 0 ? ", \(failed) failed" : "")
            } else if index > current! {
                when = "after \(phases[index - 1].label) finish and report the baseline's versions"
                held += phase.members.compactMap(\.plan)
            } else {
                var starting: [String] = []
                for member in phase.members where member.state == .pending {
                    if !halted, windowOpen, allowed > 0 {
                        allowed -= 1
                        starting.append(member.name)
                    } else if let plan = member.plan {
                        held.append(plan)
                    }
                }
                let flying = phase.members.count { $0.state == .inFlight }
                let waiting = phase.members.filter { if case .waiting = $0.state { true } else { false } }.map(\.name)
                let unread = phase.members.filter { $0.state == .unread }.map(\.name)
                var parts = ["\(done) of \(phase.members.count) done"]
                if failed > 0 { parts.append("\(failed) failed") }
                if flying > 0 { parts.append("\(flying) flashing") }
                if !starting.isEmpty { parts.append("starting now: \(starting.joined(separator: ", "))") }
                let later = phase.members.count { $0.state == .pending } - starting.count
                if later > 0 { parts.append("\(later) waiting for a free slot" + (policy.maxParallel.map { " (maxParallel \($0))" } ?? "")) }
                if !waiting.isEmpty { parts.append("not reporting the new versions yet: \(waiting.joined(separator: ", "))") }
                if !unread.isEmpty { parts.append("BMC inventory not read: \(unread.joined(separator: ", "))") }
                when = "under way: " + parts.joined(separator: "; ")
            }
            notes.append(Reason(.rolloutPhase, "\(name), \(phase.label): \(names): \(when)"))
        }
        if halted {
            notes.append(Reason(.rolloutHalted, "\(name) halted: \(failures.count) failed, more than maxFailures \(policy.maxFailures): "
                                + "\(failures.joined(separator: "; ")); nothing more starts until `dploy rollout resume \(baseline.name)` or the baseline changes"))
        } else if !windowOpen, let window = policy.window {
            let next = now.flatMap(window.nextOpening(after:)).map { "; it opens next at \($0.formatted(.iso8601))" } ?? ""
            notes.append(Reason(.rolloutWindowClosed, "\(name): outside its window (\(window.text)): nothing starts\(next)"))
        }
        for index in held {
            plans[index].actions.removeAll { $0.kind == .updateFirmware }
            plans[index].reasons.append(Reason(.rolloutWaiting, "firmware waits for \(name) (see its notes)"))
        }
    }
}
