import DployInventory
import DploySpec
import Foundation

/// What rolls out by a `RolloutPolicy`, and the rules the planner's gate (`RolloutGate`) and a
/// worker's claim (the controller's `JobAdmission`) share about it: which machines take part,
/// which of their BMC jobs are its, and which failures count towards `maxFailures`.
///
/// - A FirmwareBaseline's `spec.rollout` governs its flashes. The rollout is named after the
///   baseline (`gen10`).
/// - A Group's `spec.rollout` governs the BIOS and RAID settings its members take from that
///   group's `defaults` (`bios.attributes`, `storage.logicalDrives`, where `origins` says they
///   came from). The rollout is named `group/NAME`: document names are DNS labels, which hold
///   no `/`, so `dploy rollout resume` tells the two apart by the name alone, and a baseline
///   and a group may share a name. Settings a machine writes itself, or takes from another
///   group, are not this rollout's: they go as if there were none.
public struct Rollout: Hashable, Sendable {
    public enum Subject: Hashable, Sendable {
        case baseline(FirmwareBaseline)
        /// The group's name.
        case group(String)
    }

    public var subject: Subject
    public var policy: RolloutPolicy

    /// How a group's rollout is named: `group/NAME`.
    public static let groupPrefix = "group/"

    /// The name `dploy rollout resume` takes and `rolloutResume` rows are keyed by.
    public var name: String {
        switch subject {
        case .baseline(let baseline): baseline.name
        case .group(let group): Self.groupPrefix + group
        }
    }

    /// Every rollout of the fleet: baselines' first, then groups', each in fleet order.
    public static func all(in fleet: Fleet) -> [Rollout] {
        fleet.firmwareBaselines.compactMap { baseline in baseline.rollout.map { Rollout(subject: .baseline(baseline), policy: $0) } }
            + fleet.groups.compactMap { group in group.rollout.map { Rollout(subject: .group(group.name), policy: $0) } }
    }

    /// The rollout named `name` (`NAME` for a baseline, `group/NAME` for a group), if the
    /// document exists and has a rollout.
    public static func named(_ name: String, in fleet: Fleet) -> Rollout? {
        if name.hasPrefix(groupPrefix) {
            let group = String(name.dropFirst(groupPrefix.count))
            return fleet.group(named: group)?.rollout.map { Rollout(subject: .group(group), policy: $0) }
        }
        return fleet.firmwareBaseline(named: name).flatMap { baseline in baseline.rollout.map { Rollout(subject: .baseline(baseline), policy: $0) } }
    }

    /// The rollout that governs a job (or step) of `kind` on `machine`: its baseline's for a
    /// flash, the group's its BIOS or RAID settings come from; nil when none has a rollout.
    public static func governing(_ kind: BMCJobKind, of machine: EffectiveMachine, in fleet: Fleet) -> Rollout? {
        switch kind {
        case .firmware:
            guard let baseline = machine.settings.firmware.flatMap(fleet.firmwareBaseline(named:)), let policy = baseline.rollout else { return nil }
            return Rollout(subject: .baseline(baseline), policy: policy)
        case .bios, .raid:
            guard let group = settingsGroup(kind, of: machine), let policy = fleet.group(named: group)?.rollout else { return nil }
            return Rollout(subject: .group(group), policy: policy)
        default:
            return nil
        }
    }

    /// The names of the rollouts `machine` takes part in (its flashes', its BIOS's, its RAID's).
    static func names(governing machine: EffectiveMachine, in fleet: Fleet) -> Set<String> {
        Set([BMCJobKind.firmware, .bios, .raid].compactMap { governing($0, of: machine, in: fleet)?.name })
    }

    /// Whether `machine` takes part in this rollout: governed by it, with a BMC to send to, and,
    /// for a baseline, not of a model the baseline leaves out (as its firmware inventory says,
    /// when it was read). The plan's gate and a worker's claim both ask this, so they count the
    /// same machines' failures: a claim that counted more would cancel what the plan queues,
    /// on every run.
    public func isMember(_ machine: EffectiveMachine, firmware: ObservedFirmware?) -> Bool {
        guard !kinds(of: machine).isEmpty, machine.settings.bmc?.address != nil else { return false }
        if case .baseline(let baseline) = subject, let firmware {
            let drift = FirmwareDrift.plan(machine: machine.name, baseline: baseline, observed: firmware)
            return !drift.reasons.contains { $0.code == .firmwareModelMismatch }
        }
        return true
    }

    /// Whether `machine`, whose firmware inventory reads `firmware`, still owes the flash `job`
    /// asked for: one that failed but applied (the BMC reports the version) is owed no more.
    /// A claim asks this of the stored inventory; the plan's gate works out what every member
    /// owes from all its readings, by the same `FirmwareDrift`. True for a group's rollout.
    public func stillOwes(_ job: BMCJob, of machine: EffectiveMachine, firmware: ObservedFirmware) -> Bool {
        guard case .baseline(let baseline) = subject else { return true }
        return FirmwareDrift.plan(machine: machine.name, baseline: baseline, observed: firmware).actions.contains { $0.jobStep?.step == job.step }
    }

    /// The kinds of `machine`'s jobs this rollout governs (empty: it is no member).
    public func kinds(of machine: EffectiveMachine) -> Set<BMCJobKind> {
        switch subject {
        case .baseline(let baseline):
            return machine.settings.firmware == baseline.name ? [.firmware] : []
        case .group(let group):
            return Set([BMCJobKind.bios, .raid].filter { Self.settingsGroup($0, of: machine) == group })
        }
    }

    /// The group whose defaults gave `machine` the settings a job of `kind` writes.
    static func settingsGroup(_ kind: BMCJobKind, of machine: EffectiveMachine) -> String? {
        let field = kind == .bios ? "bios.attributes" : "storage.logicalDrives"
        guard case .group(let group, _)? = machine.origins[field] else { return nil }
        return group
    }

    /// Whether `job`, a member's newest job for its step, is a failure that counts towards
    /// `maxFailures`: failed, finished after the last resume, governed by this rollout, and
    /// asking for what the spec asks now. A baseline's new version is a new step (the version
    /// is in its name); a group's edited settings no longer match the failed job's payload:
    /// either way the edit continues the rollout, as a resume does. A skipped job is not
    /// counted: the failure that skipped it is, in its own rollout (a failed flash skips the
    /// machine's queued BIOS write, and must not count against the group's rollout too).
    public func countsAsFailure(_ job: BMCJob, of machine: EffectiveMachine, resumedAt: Date?) -> Bool {
        guard job.state == .failed, kinds(of: machine).contains(job.kind) else { return false }
        if let resumedAt, (job.finishedAt ?? .distantPast) <= resumedAt { return false }
        switch subject {
        case .baseline(let baseline):
            return baseline.components.contains { "firmware \($0.name) \($0.version)" == job.step }
        case .group:
            // A payload that does not decode was written by another dploy: counted, to be safe.
            switch try? Action(jobPayload: job.payload) {
            case .setBIOSAttributes(_, let changes, _, _)?:
                let wanted = machine.settings.bios?.attributes ?? [:]
                return changes.allSatisfy { wanted[$0.name] == $0.desired }
            case .configureRAID(_, let change, _)?:
                let wanted = Set(machine.settings.storage?.logicalDrives ?? [])
                return change.create.allSatisfy(wanted.contains)
            default:
                return true
            }
        }
    }

    /// The failures that count towards `maxFailures` among the members' newest jobs (by
    /// machine name), in name order. `owes` says whether the member still owes the job's step:
    /// a flash that failed but applied (the BMC reports the version) or settings set since
    /// are not failures any more. Without readings (a claim, for BIOS and RAID) it says yes.
    public func failures(of members: [EffectiveMachine], jobs: [String: [BMCJob]], resumedAt: Date?,
                         owes: (EffectiveMachine, BMCJob) -> Bool = { _, _ in true }) -> [(machine: String, job: BMCJob)] {
        members.sorted { $0.name < $1.name }.compactMap { member in
            (jobs[member.name] ?? []).sorted { $0.id < $1.id }
                .first { countsAsFailure($0, of: member, resumedAt: resumedAt) && owes(member, $0) }
                .map { (member.name, $0) }
        }
    }

    /// What else continues it, besides `dploy rollout resume`: an edit that changes what a
    /// failed job asked for (`countsAsFailure`), not any edit of the document.
    var edit: String {
        switch subject {
        case .baseline: "the baseline changes the version a failed flash installs"
        case .group: "the group's defaults change a value a failed job wrote"
        }
    }
}
