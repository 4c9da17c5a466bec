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
        let mac = effective.machine.mac.value
        return [BootPaths.ipxeScript(mac), BootPaths.pxelinux(mac), BootPaths.grub(mac)]
    }
}

/// Renders kept between plans, like the git source's parse cache: in a fleet where one
/// machine changed, one machine is rendered again.
///
/// An entry is valid while the machine's own spec and installed generation are unchanged
/// and everything it can inherit or use (groups, profiles, templates, settings) is too;
/// any change to those clears the whole cache. Not Sendable in spirit: one loop owns it.
public final class RenderCache: @unchecked Sendable {
    /// A class, so the table holds pointers: ten thousand inline entries would make its
    /// storage (power-of-two capacity) megabytes of mostly empty slots. Only what cannot be
    /// worked out again cheaply is kept, not a whole `RenderedMachine`: the machine it was
    /// rendered from is `effective.machine`, the profile is found by name and the DHCP host
    /// is made from `effective`, and the render's empty slots (files, profile) would still
    /// take their full width (~250 bytes an entry).
    private final class Entry {
        let installed: Int?
        let failed: Int?
        let effective: EffectiveMachine
        let needsInstall: Bool
        let digests: [OutputPath: ContentDigest]

        init(installed: Int?, failed: Int?, rendered: RenderedMachine) {
            self.installed = installed
            self.failed = failed
            effective = rendered.effective
            needsInstall = rendered.needsInstall
            digests = rendered.digests
        }
    }

    private var entries: [MACAddress: Entry] = [:]
    private var shared: (groups: [Group], profiles: [Profile], templates: [String: String], settings: PlanSettings)?
    /// The profiles of `shared`, by name: entries keep their profile's name, not a copy of it
    /// (the cache is cleared whenever profiles change).
    private var profiles: [String: Profile] = [:]

    public init() {}

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

    func begin(desired: DesiredState, settings: PlanSettings) {
        let current = (desired.fleet.groups, desired.fleet.profiles, desired.templates, settings)
        if let shared, shared.groups == current.0, shared.profiles == current.1, shared.templates == current.2,
           shared.settings == current.3 {
            return
        }
        entries = [:]
        shared = current
        profiles = Dictionary(current.1.map { ($0.name, $0) }) { first, _ in first }
    }

    func lookup(_ machine: Machine, installed: Int?, failed: Int?) -> RenderedMachine? {
        guard let entry = entries[machine.mac.value], entry.installed == installed, entry.failed == failed,
              entry.effective.machine == machine else { return nil }
        let profile = entry.effective.settings.profile.flatMap { profiles[$0] }
        return RenderedMachine(effective: entry.effective, profile: profile, needsInstall: entry.needsInstall, files: [:],
                               digests: entry.digests, host: DHCPHost(entry.effective, loader: shared?.settings.dhcpLoader(profile) ?? .ipxe))
    }

    /// Keeps the render without its files' bytes: their digests tell whether anything must
    /// be written, and the planner renders again the few machines that have something to
    /// write. A fleet's renders are tens of megabytes a daemon would otherwise hold.
    func store(_ rendered: RenderedMachine, for machine: Machine, installed: Int?, failed: Int?) {
        var kept = rendered
        // Where each value came from is for people (`validate --show`, the web page), not plans.
        kept.effective.origins = [:]
        entries[machine.mac.value] = Entry(installed: installed, failed: failed, rendered: kept)
        if let key = inputKeys[machine.name] {
            persisted[machine.name] = PersistedRender(key: key, installed: installed, failed: failed, digests: rendered.digests)
        }
    }
}
