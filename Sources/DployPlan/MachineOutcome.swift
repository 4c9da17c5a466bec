import DployRender
import DploySpec

/// One desired machine's part of a plan, worked out from its inputs alone (`PlanChanges`
/// lists them): what the planner keeps between plans, and what it puts the plan of the
/// fleet together from. A class, so the table holds pointers; only what the next plan
/// reads is kept (no file bytes, no profile, no origins of values).
///
/// Its render (what its spec and the documents it draws from make) is fixed; its steps,
/// which also read what is observed of it, are worked out again in place when only that
/// changed: after an apply, the machines it wrote are planned again without a new object
/// each (10,000 of them after a first apply, whose churn stayed in the daemon's heap).
final class MachineOutcome {
    /// The machine as resolved. Of `origins` (for people, mostly) only where its BIOS
    /// settings came from is kept: a BIOS step's reason names that line.
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
    var steps: MachineSteps

    init(rendered: RenderedMachine, installed: Int?, failed: Int?, backend: DHCPBackend?, steps: MachineSteps) {
        var effective = rendered.effective
        // What a kept outcome's steps name in their messages: where these were written.
        effective.origins = effective.origins.filter { $0.key == "bios.attributes" || $0.key == "storage.logicalDrives" || $0.key == "allowDestructive" }
        self.effective = effective
        self.installed = installed
        self.failed = failed
        needsInstall = rendered.needsInstall
        digests = rendered.digests
        loader = rendered.host.loader
        dhcpEntry = backend.flatMap { DHCPFiles.entry(rendered.host, backend: $0) }
        self.steps = steps
    }
}

/// What the planner decided for one machine from its render and what is observed of it.
struct MachineSteps {
    /// Its steps before rollouts gate them; nil when it is as it should be.
    var plan: MachinePlan?
    /// Notes about it (BIOS settings pending or withheld).
    var notes: [Reason]
    /// How many observed files are its own: a plan whose machines and shared files account
    /// for every observed file has nothing removed from git to look for.
    var owned: Int
    /// Why DHCP hands it another loader than its profile's, and how the note names it.
    var unservedLoader: (why: String, entry: String)?
}
