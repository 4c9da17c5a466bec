import DployRender
import DploySpec

/// What changed between two plans' inputs, and whom it concerns: the dependency edges of
/// incremental planning. A machine's outcome is worked out again when its own spec changed,
/// or a document it drew from (a group it is or becomes a member of, its profile, that
/// profile's template, its firmware baseline), or anything observed of it. Saying too much
/// costs a render; saying too little would be a wrong plan, so every edge errs on the side
/// of too much (a document whose only change is where it sits in its file counts as changed).
struct PlanChanges {
    /// What a plan is made from, as the next plan compares it.
    struct Inputs {
        var groups: [String: Group]
        var profiles: [String: Profile]
        var baselines: [String: FirmwareBaseline]
        var templates: [String: String]
        var settings: PlanSettings
        var observed: ObservedState

        init(desired: DesiredState, observed: ObservedState, settings: PlanSettings) {
            let fleet = desired.fleet
            groups = Dictionary(fleet.groups.map { ($0.name, $0) }) { first, _ in first }
            profiles = Dictionary(fleet.profiles.map { ($0.name, $0) }) { first, _ in first }
            baselines = Dictionary(fleet.firmwareBaselines.map { ($0.name, $0) }) { first, _ in first }
            templates = desired.templates
            self.settings = settings
            self.observed = observed
        }
    }

    /// What a change means for one machine's kept outcome.
    enum Effect {
        /// Nothing it reads changed: its outcome stands.
        case none
        /// What is observed of it changed: planned again (its render is kept unless its
        /// installed or failed generation moved, which `RenderCache.render(of:)` checks).
        case plan
        /// Its spec or a document its render reads changed: rendered and planned again.
        case render
    }

    /// Groups added, removed or changed, by name; and those of them in the new fleet.
    var groups: Set<String> = []
    var newGroups: [Group] = []
    /// Profiles added, removed or changed, or whose template's text changed.
    var profiles: Set<String> = []
    var baselines: Set<String> = []
    /// Machines something observed of changed: by MAC (most of what is observed), and by
    /// name (BMC jobs, installer answers).
    var macs: Set<MACAddress> = []
    var names: Set<String> = []

    init(from old: Inputs, to new: Inputs) {
        groups = Self.changedKeys(old.groups, new.groups)
        newGroups = groups.compactMap { new.groups[$0] }
        baselines = Self.changedKeys(old.baselines, new.baselines)
        profiles = Self.changedKeys(old.profiles, new.profiles)
        let templates = Self.changedKeys(old.templates, new.templates)
        if !templates.isEmpty {
            for profile in new.profiles.values where profile.installer?.template.map({ templates.contains($0.value) }) ?? false {
                profiles.insert(profile.name)
            }
        }

        let (was, now) = (old.observed, new.observed)
        for table in [Self.changedKeys(was.installedGenerations, now.installedGenerations),
                      Self.changedKeys(was.failedInstalls, now.failedInstalls),
                      Self.changedKeys(was.installing, now.installing),
                      Self.changedKeys(was.power, now.power),
                      Self.changedKeys(was.firmware, now.firmware),
                      Self.changedKeys(was.bios, now.bios),
                      Self.changedKeys(was.biosUnread, now.biosUnread),
                      Self.changedKeys(was.storage, now.storage),
                      Self.changedKeys(was.storageUnread, now.storageUnread),
                      Self.changedKeys(was.imaging, now.imaging)] {
            macs.formUnion(table)
        }
        names = Self.changedKeys(was.bmcJobs, now.bmcJobs)
        // Paths one at a time: after a first apply, all of the fleet's tens of thousands changed.
        Self.forEachChangedKey(was.files, now.files) { path in
            let (mac, name) = Self.machine(of: path)
            if let mac { macs.insert(mac) }
            if let name { names.insert(name) }
        }
    }

    func affect(_ machine: Machine, outcome: MachineOutcome, resolver: DefaultsResolver) -> Effect {
        let effective = outcome.effective
        guard effective.machine == machine else { return .render }
        if !groups.isEmpty {
            if effective.groups.contains(where: groups.contains) { return .render }
            // A changed or new group it was not in may take it in now.
            if !newGroups.isEmpty, resolver.groups(containing: machine).map(\.name) != effective.groups { return .render }
        }
        if !profiles.isEmpty, let profile = effective.settings.profile, profiles.contains(profile) { return .render }
        if !baselines.isEmpty, let baseline = effective.settings.firmware, baselines.contains(baseline) { return .plan }
        if !macs.isEmpty && macs.contains(machine.mac.value) || !names.isEmpty && names.contains(machine.name) { return .plan }
        return .none
    }

    /// Keys whose value differs between the two tables, or that only one has. Two tables
    /// that share their storage (what an observation that found nothing new hands back)
    /// compare at once.
    static func changedKeys<Key: Hashable, Value: Equatable>(_ old: [Key: Value], _ new: [Key: Value]) -> Set<Key> {
        var keys: Set<Key> = []
        forEachChangedKey(old, new) { keys.insert($0) }
        return keys
    }

    /// Calls `changed` with each key `changedKeys` would return (a key only the old table
    /// has may come twice: never a key whose value is the same).
    static func forEachChangedKey<Key: Hashable, Value: Equatable>(_ old: [Key: Value], _ new: [Key: Value], _ changed: (Key) -> Void) {
        guard old != new else { return }
        var kept = 0
        for (key, value) in new {
            guard let before = old[key] else {
                changed(key)
                continue
            }
            kept += 1
            if before != value { changed(key) }
        }
        // Only when some key of the old table is not in the new one: one pass is enough otherwise.
        if kept < old.count {
            for key in old.keys where new[key] == nil { changed(key) }
        }
    }

    /// The machine a managed file belongs to: by name for an installer answer
    /// (`installers/NAME/…`), by MAC for a boot file (whatever its loader). Any other file
    /// belongs to none: it counts in the plan's shared part, worked out on every plan.
    static func machine(of path: OutputPath) -> (mac: MACAddress?, name: String?) {
        if path.root == .http, path.path.hasPrefix("installers/") {
            let name = path.path.dropFirst("installers/".count).prefix { $0 != "/" }
            return (nil, String(name))
        }
        let file = String(path.path.split(separator: "/").last ?? "")
        for loader in BootLoader.allCases {
            if let text = BootPaths.configMAC(file, loader: loader), let mac = MACAddress(text) { return (mac, nil) }
        }
        return (nil, nil)
    }
}
