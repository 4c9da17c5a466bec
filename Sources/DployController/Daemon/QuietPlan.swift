import DployInventory
import DployPlan
import DploySpec

/// What identifies a desired state cheaply: its commit, for a git source (its fleet and
/// templates follow from the commit); else, for a folder, the fleet and templates themselves.
struct DesiredKey: Equatable, Sendable {
    var revision: String?
    var source: String
    var fleet: Fleet?
    var templates: [String: String]?

    init(_ desired: DesiredState) {
        revision = desired.revision
        source = desired.source
        fleet = desired.revision == nil ? desired.fleet : nil
        templates = desired.revision == nil ? desired.templates : nil
    }
}

/// A plan that changed nothing, kept with everything the planner made it from. The planner
/// is a pure function of these inputs, so while they are all equal it would make the same
/// plan again: the loop reuses this one instead of resolving, rendering and comparing the
/// whole fleet on every quiet run.
struct QuietPlan: Sendable {
    struct Inputs: Equatable, Sendable {
        var desired: DesiredKey
        /// Everything observed but the files, which `filesVersion` stands for (comparing forty
        /// thousand digests would cost much of what skipping the plan saves).
        var observed: ObservedState
        var filesVersion: Int?
        var settings: PlanSettings

        init(desired: DesiredState, observed: ObservedState, settings: PlanSettings, filesVersion: Int?) {
            self.desired = DesiredKey(desired)
            var rest = observed
            rest.files = [:]
            self.observed = rest
            self.filesVersion = filesVersion
            self.settings = settings
        }
    }

    var inputs: Inputs
    var plan: Plan

    /// The kept plan, when `inputs` are what it was made from and the files are known unchanged
    /// (a loop without an observation cache has no version, so it always plans).
    func plan(for inputs: Inputs) -> Plan? {
        guard inputs.filesVersion != nil, inputs == self.inputs else { return nil }
        return plan
    }
}

/// The metrics' condition counts, kept with what each machine's were counted from:
/// `MachineConditions` is pure, and counting resolves a machine's settings, which for every
/// machine of 10,000 cost more than the rest of a quiet run. A run counts again only the
/// machines whose store row or BMC reading changed (a rollout changes a few dozen a run),
/// and every machine when the desired state did.
struct CountedConditions: Sendable {
    typealias Counts = [MachineCondition.Kind: [MachineCondition.Status: Int]]
    var desired: DesiredKey
    var observed: [ObservedMachine]
    var bmcReadings: [MACAddress: BMCRecord]
    /// Each machine's statuses, in git or only seen, by MAC.
    var statuses: [MACAddress: Statuses]
    var counts: Counts

    /// A machine's status for each condition kind, two bits a kind (none, True, False,
    /// Unknown): ten thousand of these are kept, so not as arrays.
    struct Statuses: Sendable {
        private static let kinds = MachineCondition.Kind.allCases
        private static let statuses: [MachineCondition.Status] = [.true, .false, .unknown]
        private var bits: UInt16 = 0

        init(_ conditions: [MachineCondition]) {
            for condition in conditions {
                guard let kind = Self.kinds.firstIndex(of: condition.type),
                      let status = Self.statuses.firstIndex(of: condition.status) else { continue }
                bits |= UInt16(status + 1) << (2 * kind)
            }
        }

        /// Adds one to `tally[kind * 3 + status]` for each condition the machine has.
        func add(to tally: inout [Int]) {
            for kind in Self.kinds.indices {
                let code = Int(bits >> (2 * kind)) & 3
                if code != 0 { tally[kind * 3 + code - 1] += 1 }
            }
        }

        static func counts(_ tally: [Int]) -> Counts {
            var counts: Counts = [:]
            for (kind, type) in kinds.enumerated() {
                for (index, status) in statuses.enumerated() where tally[kind * 3 + index] > 0 {
                    counts[type, default: [:]][status] = tally[kind * 3 + index]
                }
            }
            return counts
        }

        static var tallySize: Int { kinds.count * statuses.count }
    }

    /// The counts for these inputs: the kept ones when nothing changed; else each machine's
    /// kept when the desired state and its row and reading are as they were, counted again
    /// otherwise. `kept` nil counts every machine. `resolved` gives a machine's settings as
    /// the plan of `desired` resolved them (`RenderCache.effective(of:)`), so that a commit
    /// does not resolve its 10,000 machines a second time; where it gives nil, they are
    /// resolved here.
    static func counts(_ kept: CountedConditions?, desired: DesiredState, observed: [ObservedMachine],
                       bmcReadings: [MACAddress: BMCRecord],
                       resolved: (Machine) -> EffectiveMachine? = { _ in nil }) -> CountedConditions {
        let key = DesiredKey(desired)
        // A quiet run: two comparisons, no table built.
        if let kept, kept.desired == key, kept.observed == observed, kept.bmcReadings == bmcReadings { return kept }
        // The same desired state: a MAC in git then is in git now, with the same settings.
        let reusable = kept?.desired == key ? kept : nil
        let keptSeen = reusable.map { Dictionary($0.observed.map { ($0.mac, $0) }, uniquingKeysWith: { $1 }) } ?? [:]
        func keptStatuses(_ mac: MACAddress, _ seen: ObservedMachine?, _ bmc: BMCRecord?) -> Statuses? {
            guard let reusable, keptSeen[mac] == seen, reusable.bmcReadings[mac] == bmc else { return nil }
            return reusable.statuses[mac]
        }
        let fleet = desired.fleet
        let seenByMAC = Dictionary(observed.map { ($0.mac, $0) }, uniquingKeysWith: { $1 })
        // Made on the first machine that needs it.
        var resolver: DefaultsResolver?
        var statuses: [MACAddress: Statuses] = .init(minimumCapacity: fleet.machines.count)
        for machine in fleet.machines {
            let mac = machine.mac.value
            let seen = seenByMAC[mac], bmc = bmcReadings[mac]
            if let counted = keptStatuses(mac, seen, bmc) {
                statuses[mac] = counted
                continue
            }
            let effective: EffectiveMachine
            if let known = resolved(machine) {
                effective = known
            } else {
                if resolver == nil { resolver = DefaultsResolver(groups: fleet.groups) }
                effective = resolver!.resolve(machine)
            }
            statuses[mac] = Statuses(MachineConditions.evaluate(machine: effective,
                                                                baseline: effective.settings.firmware.flatMap(fleet.firmwareBaseline(named:)),
                                                                observed: seen, bmc: bmc))
        }
        for seen in observed where statuses[seen.mac] == nil {
            let bmc = bmcReadings[seen.mac]
            statuses[seen.mac] = keptStatuses(seen.mac, seen, bmc)
                ?? Statuses(MachineConditions.evaluate(machine: nil, baseline: nil, observed: seen, bmc: bmc))
        }
        var tally = [Int](repeating: 0, count: Statuses.tallySize)
        for machine in statuses.values { machine.add(to: &tally) }
        return CountedConditions(desired: key, observed: observed, bmcReadings: bmcReadings, statuses: statuses,
                                 counts: Statuses.counts(tally))
    }
}
