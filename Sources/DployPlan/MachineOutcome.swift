import DployRender
import DploySpec

/// One desired machine's part of a plan, worked out from its inputs alone (`PlanChanges`
/// lists them): what the planner keeps between plans, and what it puts the plan of the
/// fleet together from. A class, so the table holds pointers; only what the next plan
/// reads is kept (no file bytes, no profile, no origins of values).
final class MachineOutcome {
    /// The machine as resolved, without `origins` (for people, not plans).
    let effective: EffectiveMachine
    /// The installed and failed generations it was rendered for.
    let installed: Int?
    let failed: Int?
    let needsInstall: Bool
    /// Its files' digests, by path.
    let digests: [OutputPath: ContentDigest]
    /// The loader DHCP hands it (its reservation is made from `effective` and this), and
    /// its part of the DHCP file (nil for a backend written whole).
    let loader: BootLoader
    let dhcpEntry: String?
    /// Its steps before rollouts gate them; nil when it is as it should be.
    let plan: MachinePlan?
    /// Notes about it (BIOS settings pending or withheld).
    let notes: [Reason]
    /// How many observed files are its own: a plan whose machines and shared files account
    /// for every observed file has nothing removed from git to look for.
    let owned: Int
    /// The baseline whose rollout it takes part in, if any.
    let rollout: String?
    /// Why DHCP hands it another loader than its profile's, and how the note names it.
    let unservedLoader: (why: String, entry: String)?

    init(rendered: RenderedMachine, installed: Int?, failed: Int?, backend: DHCPBackend?, plan: MachinePlan?, notes: [Reason],
         owned: Int, rollout: String?, unservedLoader: (why: String, entry: String)?) {
        var effective = rendered.effective
        effective.origins = [:]
        self.effective = effective
        self.installed = installed
        self.failed = failed
        needsInstall = rendered.needsInstall
        digests = rendered.digests
        loader = rendered.host.loader
        dhcpEntry = backend.flatMap { DHCPFiles.entry(rendered.host, backend: $0) }
        self.plan = plan
        self.notes = notes
        self.owned = owned
        self.rollout = rollout
        self.unservedLoader = unservedLoader
    }
}
