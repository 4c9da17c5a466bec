/// Rules that span documents: unique identities, references between objects, and
/// group defaults that agree. Pure: it reads a `Fleet` and returns diagnostics.
public struct FleetValidator: Sendable {
    /// Paths (relative to the top of the spec tree) of every file there, to check that
    /// installer templates exist; nil skips that check (a single file was given).
    public var knownPaths: Set<String>?

    public init(knownPaths: Set<String>? = nil) { self.knownPaths = knownPaths }

    public func validate(_ fleet: Fleet) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        diagnostics += uniqueIdentities(fleet.machines)
        diagnostics += references(fleet)
        let (resolved, conflicts) = DefaultsResolver(groups: fleet.groups).resolveAll(fleet.machines)
        diagnostics += conflicts
        for machine in resolved where machine.machine.settings.bmc?.address != nil && machine.settings.bmc?.credentials == nil {
            diagnostics.append(Diagnostic(
                "machine '\(machine.name)' has a BMC but no 'bmc.credentials': set it on the machine or in a group's defaults",
                at: machine.machine.settings.locations["bmc.address"] ?? machine.machine.metadata.location))
        }
        return diagnostics
    }

    /// MAC, IP and BMC address each belong to one machine.
    private func uniqueIdentities(_ machines: [Machine]) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var macs: [MACAddress: Machine] = [:], ips: [IPAddress: Machine] = [:], bmcs: [String: Machine] = [:]
        // Visit in source order so "already used by" names the first definition.
        for machine in machines.sorted(by: { $0.metadata.location < $1.metadata.location }) {
            if let other = macs[machine.mac.value] {
                diagnostics.append(Diagnostic("MAC \(machine.mac.value) is already used by machine '\(other.name)' (\(other.mac.location))",
                                              at: machine.mac.location))
            } else { macs[machine.mac.value] = machine }
            if let ip = machine.ip {
                if let other = ips[ip.value] {
                    diagnostics.append(Diagnostic("IP address \(ip.value) is already used by machine '\(other.name)' (\(other.ip!.location))",
                                                  at: ip.location))
                } else { ips[ip.value] = machine }
            }
            if let address = machine.settings.bmc?.address {
                let key = address.lowercased().trimmingSuffix("/")
                let location = machine.settings.locations["bmc.address"] ?? machine.metadata.location
                if let other = bmcs[key] {
                    diagnostics.append(Diagnostic("BMC address \(address) is already used by machine '\(other.name)' (\(other.settings.locations["bmc.address"] ?? other.metadata.location))",
                                                  at: location))
                } else { bmcs[key] = machine }
            }
        }
        return diagnostics
    }

    private func references(_ fleet: Fleet) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let machines = Set(fleet.machines.map(\.name)), groups = Set(fleet.groups.map(\.name))
        let profiles = Set(fleet.profiles.map(\.name)), baselines = Set(fleet.firmwareBaselines.map(\.name))

        func check(_ name: String?, at location: SourceLocation?, among names: Set<String>, kind: String,
                   from owner: String) {
            guard let name, !names.contains(name) else { return }
            diagnostics.append(Diagnostic("\(owner) refers to \(kind) '\(name)', which is not defined"
                                          + Suggestion.phrase(for: name, in: names.sorted()),
                                          at: location ?? SourceLocation(file: "", line: 1, column: 1)))
        }
        func checkSettings(_ settings: MachineSettings, owner: String, fallback: SourceLocation) {
            check(settings.profile, at: settings.locations["profile"] ?? fallback, among: profiles, kind: "profile", from: owner)
            check(settings.firmware, at: settings.locations["firmware"] ?? fallback, among: baselines,
                  kind: "firmware baseline", from: owner)
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
