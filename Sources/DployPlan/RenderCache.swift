import DployRender
import DploySpec

/// One machine's rendered files and what the planner decided for it.
struct RenderedMachine {
    var effective: EffectiveMachine
    var profile: Profile?
    var needsInstall: Bool
    var files: [OutputPath: [UInt8]]
    /// The files' digests, computed once per render, compared with observed files every plan.
    var digests: [OutputPath: ContentDigest]
    var host: DHCPHost

    /// Where this machine's boot files may be, whichever loader it used before. Worked out
    /// when asked, not stored: three paths per machine were megabytes in the render cache.
    var bootPaths: [OutputPath] {
        BootPaths.machineFiles(effective.machine.mac.value)
    }
}

/// What the planner keeps between plans, so that a plan costs what changed, not the fleet:
/// each machine's render and its part of the plan (`MachineOutcome`), with what they were
/// made from. Like the git source's parse cache: in a fleet where one machine changed, one
/// machine is rendered and planned again.
///
/// A machine's outcome is a pure function of its inputs: its own spec, the documents it
/// drew from (its groups, its profile and that profile's template, its firmware baseline),
/// the settings, and what is observed of it (its files, installed and failed generations,
/// install, power, firmware, BIOS, BMC jobs, imaging). `begin` compares this plan's inputs
/// with the last plan's and keeps the outcome of every machine none of whose inputs changed
/// (`PlanChanges` says which did); the planner works out the others, then puts the plan of
/// the fleet together from all of them. A full plan is the same with nothing kept: the
/// planner's tests hold the two byte for byte equal over random commits.
///
/// Not Sendable in spirit: one loop owns it.
public final class RenderCache: @unchecked Sendable {
    /// Whether a plan reuses the outcomes of machines whose inputs did not change; when
    /// false, every plan is a full one (what it works out is still kept).
    public var incremental = true
    /// Outcomes by machine name, of the last plan made.
    private(set) var outcomes: [String: MachineOutcome] = [:]
    /// What the last plan was made from; nil before the first and after a plan that failed.
    private var last: PlanChanges.Inputs?

    public init() {}

    /// How many machines the last plan worked out anew (the others' outcomes were kept), for
    /// tests and the daemon's log.
    public private(set) var machinesPlanned = 0

    /// Renders another process made (a one-shot apply's, through `ApplyCache`), by machine
    /// name: their files' digests, valid for a machine while `inputKeys` gives it the key
    /// they were made under and its installed and failed generations are the same.
    public struct PersistedRender: Sendable, Equatable {
        public var key: ContentDigest
        public var installed: Int?
        public var failed: Int?
        public var digests: [OutputPath: ContentDigest]

        public init(key: ContentDigest, installed: Int?, failed: Int?, digests: [OutputPath: ContentDigest]) {
            (self.key, self.installed, self.failed, self.digests) = (key, installed, failed, digests)
        }
    }

    public var persisted: [String: PersistedRender] = [:]
    /// For the plan about to be made, each machine's key: a digest of everything its render
    /// reads but its installed and failed generations (its own spec, and everything it can
    /// inherit or use), made by the caller, which knows where the specs came from. A machine
    /// without one has its renders kept in memory only.
    public var inputKeys: [String: ContentDigest] = [:]

    func persistedDigests(_ machine: Machine, installed: Int?, failed: Int?) -> [OutputPath: ContentDigest]? {
        guard let key = inputKeys[machine.name], let render = persisted[machine.name], render.key == key,
              render.installed == installed, render.failed == failed else { return nil }
        return render.digests
    }

    /// Starts a plan: drops what no longer holds and returns the machines to work out, in
    /// fleet order (all of them on a full plan).
    func begin(desired: DesiredState, observed: ObservedState, settings: PlanSettings, resolver: DefaultsResolver) -> [Machine] {
        let inputs = PlanChanges.Inputs(desired: desired, observed: observed, settings: settings)
        defer { last = inputs }
        guard incremental, let last, last.settings == settings else {
            outcomes = [:]
            machinesPlanned = desired.fleet.machines.count
            return desired.fleet.machines
        }
        let changes = PlanChanges(from: last, to: inputs)
        var planned: [Machine] = []
        // Outcomes left of machines in git: any more in the table are of machines gone.
        var current = 0
        for machine in desired.fleet.machines {
            guard let outcome = outcomes[machine.name] else {
                planned.append(machine)
                continue
            }
            switch changes.affect(machine, outcome: outcome, resolver: resolver) {
            case .none:
                current += 1
                continue
            case .render:
                outcomes[machine.name] = nil
            case .plan:
                current += 1
            }
            planned.append(machine)
        }
        if outcomes.count > current {
            // Machines gone from git: their outcomes go with them.
            let names = Set(desired.fleet.machines.map(\.name))
            outcomes = outcomes.filter { names.contains($0.key) }
        }
        machinesPlanned = planned.count
        return planned
    }

    /// The settings `machine` resolved to in the last plan made, when that plan worked it
    /// out or kept its outcome: what the daemon counts its conditions from without resolving
    /// again. Only for the fleet of that plan (after a reset, nil): an outcome is kept only
    /// while every input of its settings (the machine, its groups) is as it was.
    public func effective(of machine: Machine) -> EffectiveMachine? {
        guard let outcome = outcomes[machine.name], outcome.effective.machine == machine else { return nil }
        return outcome.effective
    }

    /// Forgets every outcome: the next plan is a full one (after a plan that failed, and
    /// whenever the daemon looks at every output file again).
    public func reset() {
        outcomes = [:]
        last = nil
    }

    /// The render kept for `machine`, when its outcome was kept because only what is
    /// observed of it (not its render's inputs) changed.
    func render(of machine: Machine, installed: Int?, failed: Int?, desired: DesiredState, settings: PlanSettings) -> RenderedMachine? {
        guard let outcome = outcomes[machine.name], outcome.installed == installed, outcome.failed == failed,
              outcome.effective.machine == machine else { return nil }
        let profile = outcome.effective.settings.profile.flatMap(desired.fleet.profile(named:))
        return RenderedMachine(effective: outcome.effective, profile: profile, needsInstall: outcome.needsInstall, files: [:],
                               digests: outcome.digests, host: DHCPHost(outcome.effective, loader: outcome.loader))
    }

    /// Keeps a machine's outcome, and its render's digests for another process when the
    /// caller gave the machine a key.
    func keep(_ outcome: MachineOutcome) {
        outcomes[outcome.effective.name] = outcome
        if let key = inputKeys[outcome.effective.name] {
            persisted[outcome.effective.name] = PersistedRender(key: key, installed: outcome.installed, failed: outcome.failed,
                                                                digests: outcome.digests)
        }
    }
}
