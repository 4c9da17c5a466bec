/// Rules that span documents: unique identities, references between objects, and
/// group defaults that agree. Pure: it reads a `Fleet` and returns diagnostics.
public struct FleetValidator: Sendable {
    /// Paths (relative to the top of the spec tree) of every file there, to check that
    /// installer templates exist; nil skips that check (a single file was given).
    public var knownPaths: Set<String>?
    /// Paths of the tree (folders or files, relative to its top) that hold, or link to, the
    /// controller's own files (state, secrets, output), with what they are: a template there
    /// would render a token or key into a served file, so naming one is an error.
    public var refusedPaths: [String: String]

    /// Rules of whoever loads the specs, run after the spec language's own: the controller
    /// checks there that every password a spec would send may go where the spec sends it.
    public var rules: (@Sendable (Fleet) -> [Diagnostic])?

    public init(knownPaths: Set<String>? = nil, refusedPaths: [String: String] = [:],
                rules: (@Sendable (Fleet) -> [Diagnostic])? = nil) {
        self.knownPaths = knownPaths
        self.refusedPaths = refusedPaths
        self.rules = rules
    }

    public func validate(_ fleet: Fleet) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        diagnostics += uniqueIdentities(fleet.machines)
        diagnostics += references(fleet)
        diagnostics += DefaultsResolver(groups: fleet.groups).problems(in: fleet.machines)
        // Only on a fleet the spec language accepts: the rules may read group defaults.
        if diagnostics.isEmpty, let rules { diagnostics += rules(fleet) }
        return diagnostics
    }

    /// MAC, IP and BMC address each belong to one machine; the later of two is the error.
    private func uniqueIdentities(_ machines: [Machine]) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        // First holder of each identity, by its index in `machines`: this runs over the whole
        // fleet at every load, so the tables hold integers, sized once, and a holder's name
        // and location are looked up only for an error.
        var macs: [MACAddress: Int] = [:], ips: [IPAddress: Int] = [:], bmcs: [String: Int] = [:]
        macs.reserveCapacity(machines.count)
        ips.reserveCapacity(machines.count)
        bmcs.reserveCapacity(machines.count)
        func claim<Key: Hashable>(_ key: Key, _ what: @autoclosure () -> String, by index: Int,
                                  at location: (Machine) -> SourceLocation, in holders: inout [Key: Int]) {
            if let first = holders[key] {
                let holder = machines[first]
                diagnostics.append(Diagnostic("\(what()) is already used by machine '\(holder.name)' (\(location(holder)))",
                                              at: location(machines[index])))
            } else {
                holders[key] = index
            }
        }
        for (index, machine) in machines.enumerated() {
            claim(machine.mac.value, "MAC \(machine.mac.value)", by: index, at: { $0.mac.location }, in: &macs)
            if let ip = machine.ip {
                claim(ip.value, "IP address \(ip.value)", by: index, at: { $0.ip?.location ?? $0.metadata.location }, in: &ips)
            }
            if let address = machine.settings.bmc?.address {
                let key = address.lowercased().trimmingSuffix("/")
                claim(key, "BMC address \(address)", by: index,
                      at: { $0.settings.locations["bmc.address"] ?? $0.metadata.location }, in: &bmcs)
            }
        }
        return diagnostics
    }

    private func references(_ fleet: Fleet) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let machines = Set(fleet.machines.map(\.name)), groups = Set(fleet.groups.map(\.name))
        let profiles = Set(fleet.profiles.map(\.name)), baselines = Set(fleet.firmwareBaselines.map(\.name))

        // Locations and owners are built only for an error: this runs for every machine.
        func check(_ name: String?, at location: @autoclosure () -> SourceLocation, among names: Set<String>,
                   kind: String, from owner: @autoclosure () -> String) {
            guard let name, !names.contains(name) else { return }
            diagnostics.append(Diagnostic("\(owner()) refers to \(kind) '\(name)', which is not defined"
                                          + Suggestion.phrase(for: name, in: names.sorted()),
                                          at: location()))
        }
        func checkSettings(_ settings: MachineSettings, owner: @autoclosure () -> String, fallback: SourceLocation) {
            check(settings.profile, at: settings.locations["profile"] ?? fallback, among: profiles, kind: "profile",
                  from: owner())
            check(settings.firmware, at: settings.locations["firmware"] ?? fallback, among: baselines,
                  kind: "firmware baseline", from: owner())
        }

        for machine in fleet.machines {
            checkSettings(machine.settings, owner: "machine '\(machine.name)'", fallback: machine.metadata.location)
        }
        for group in fleet.groups {
            checkSettings(group.defaults, owner: "group '\(group.name)'", fallback: group.metadata.location)
            for member in group.members {
                check(member.value, at: member.location, among: machines, kind: "machine", from: "group '\(group.name)'")
            }
        }
        for task in fleet.tasks {
            for machine in task.targets.machines {
                check(machine.value, at: machine.location, among: machines, kind: "machine", from: "task '\(task.name)'")
            }
            for group in task.targets.groups {
                check(group.value, at: group.location, among: groups, kind: "group", from: "task '\(task.name)'")
            }
        }
        for profile in fleet.profiles {
            guard let template = profile.installer?.template else { continue }
            diagnostics += templateProblems(template, profile: profile.name)
        }
        return diagnostics
    }

    private func templateProblems(_ template: Located<String>, profile: String) -> [Diagnostic] {
        let parts = template.value.split(separator: "/", omittingEmptySubsequences: true)
        if template.value.hasPrefix("/") || parts.contains("..") {
            return [Diagnostic("profile '\(profile)': template '\(template.value)' must be a path inside the spec tree, without '..'",
                               at: template.location)]
        }
        let normalized = parts.filter { $0 != "." }.joined(separator: "/")
        if let (_, what) = refusedPaths.sorted(by: { $0.key < $1.key }).first(where: { path, _ in
            path.isEmpty || normalized == path || normalized.hasPrefix(path + "/")
        }) {
            return [Diagnostic("profile '\(profile)': installer.template '\(template.value)' resolves into \(what): templates come only "
                               + "from the spec source, never from the controller's state, secrets or output folders",
                               at: template.location)]
        }
        if let knownPaths, !knownPaths.contains(normalized) {
            return [Diagnostic("profile '\(profile)': template '\(template.value)' does not exist"
                               + Suggestion.phrase(for: normalized, in: knownPaths.sorted()),
                               at: template.location)]
        }
        return []
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
