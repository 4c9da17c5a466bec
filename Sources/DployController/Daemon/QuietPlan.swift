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

/// The metrics' condition counts, kept with what they were counted from: `MachineConditions`
/// is pure, and counting resolves every machine's settings, which at 10,000 machines cost
/// more than the rest of a quiet run.
struct CountedConditions: Sendable {
    typealias Counts = [MachineCondition.Kind: [MachineCondition.Status: Int]]
    var desired: DesiredKey
    var observed: [ObservedMachine]
    var bmcReadings: [MACAddress: BMCRecord]
    var counts: Counts

    /// The counts for these inputs: the kept ones when they are the same, else counted again.
    static func counts(_ kept: CountedConditions?, desired: DesiredState, observed: [ObservedMachine],
                       bmcReadings: [MACAddress: BMCRecord]) -> CountedConditions {
        let key = DesiredKey(desired)
        if let kept, kept.desired == key, kept.observed == observed, kept.bmcReadings == bmcReadings { return kept }
        return CountedConditions(desired: key, observed: observed, bmcReadings: bmcReadings,
                                 counts: MachineOverview.conditionCounts(fleet: desired.fleet, observed: observed,
                                                                         bmcReadings: bmcReadings))
    }
}
