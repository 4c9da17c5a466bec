/// Merges group defaults into machines.
///
/// A machine's own value always wins. Otherwise the groups that set the field compete: the
/// highest `priority` wins, and two groups of equal priority that disagree are an error,
/// reported once per pair of groups and field, at the later group's value.
public struct DefaultsResolver: Sendable {
    public let groups: [Group]

    public init(groups: [Group]) { self.groups = groups.sorted { $0.name < $1.name } }

    public func resolve(_ machine: Machine) -> EffectiveMachine {
        var ignored: [ConflictKey: [String]] = [:]
        return resolve(machine, conflicts: &ignored)
    }

    /// Resolves every machine and returns the conflicts found among group defaults.
    public func resolveAll(_ machines: [Machine]) -> (machines: [EffectiveMachine], diagnostics: [Diagnostic]) {
        var conflicts: [ConflictKey: [String]] = [:]
        let resolved = machines.map { resolve($0, conflicts: &conflicts) }
        let diagnostics = conflicts.map { key, machines in
            let shown = machines.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            let more = machines.count > 3 ? " and \(machines.count - 3) more" : ""
            return Diagnostic(
                "groups '\(key.first)' and '\(key.second)' both set '\(key.field)' with priority \(key.priority) but disagree ('\(key.firstValue)' vs '\(key.secondValue)') for machine\(machines.count == 1 ? "" : "s") \(shown)\(more); give one group a higher priority, or set '\(key.field)' on the machine",
                at: key.location)
        }
        return (resolved, diagnostics)
    }

    struct ConflictKey: Hashable {
        var first: String, second: String, field: String, priority: Int
        var firstValue: String, secondValue: String
        var location: SourceLocation
    }

    private func resolve(_ machine: Machine, conflicts: inout [ConflictKey: [String]]) -> EffectiveMachine {
        let memberOf = groups.filter { $0.contains(machine) }
        var settings = machine.settings
        var origins: [String: ValueOrigin] = [:]
        for field in SettingField.inheritable {
            if field.read(machine.settings) != nil {
                origins[field.path] = .machine(machine.settings.locations[field.path] ?? machine.metadata.location)
                continue
            }
            let offering = memberOf.filter { field.read($0.defaults) != nil }
            guard let priority = offering.map(\.priority).max() else { continue }
            let winners = offering.filter { $0.priority == priority }
            let chosen = winners[0]
            for rival in winners.dropFirst() {
                let chosenValue = field.read(chosen.defaults)!, rivalValue = field.read(rival.defaults)!
                guard chosenValue != rivalValue else { continue }
                let key = ConflictKey(first: chosen.name, second: rival.name, field: field.path, priority: priority,
                                      firstValue: chosenValue, secondValue: rivalValue,
                                      location: rival.defaults.locations[field.path] ?? rival.metadata.location)
                conflicts[key, default: []].append(machine.name)
            }
            field.copy(&settings, chosen.defaults)
            origins[field.path] = .group(chosen.name, chosen.defaults.locations[field.path] ?? chosen.metadata.location)
        }
        if machine.settings.bmc?.address == nil {
            // Group BMC defaults apply only to machines that have a BMC of their own.
            settings.bmc = nil
            origins = origins.filter { !$0.key.hasPrefix("bmc.") }
        }
        return EffectiveMachine(machine: machine, groups: memberOf.map(\.name), settings: settings, origins: origins)
    }
}
