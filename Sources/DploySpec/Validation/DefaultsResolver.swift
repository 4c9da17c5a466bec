/// Merges group defaults into machines.
///
/// A machine's own value always wins. Otherwise the groups that set the field compete: the
/// highest `priority` wins, and two groups of equal priority that disagree are an error,
/// reported once per pair of groups and field, at the later group's value.
public struct DefaultsResolver: Sendable {
    public let groups: [Group]
    /// Each group's member names, as a set: membership is asked for every machine.
    private let memberSets: [Set<String>]

    public init(groups: [Group]) {
        self.groups = groups.sorted { $0.name < $1.name }
        memberSets = self.groups.map { Set($0.members.map(\.value)) }
    }

    /// The groups a machine belongs to: named in `members`, or matching every pair of
    /// `selector`. The one definition of membership, for defaults and task targets alike.
    public func groups(containing machine: Machine) -> [Group] { membership(of: machine).map { groups[$0] } }

    /// The indexes (into `groups`) of the groups a machine belongs to.
    func membership(of machine: Machine) -> [Int] {
        groups.indices.filter { index in
            if memberSets[index].contains(machine.name) { return true }
            guard let selector = groups[index].selector, !selector.isEmpty else { return false }
            return selector.allSatisfy { machine.metadata.labels[$0.key] == $0.value }
        }
    }

    /// For one field, the group whose default applies among `members`, and any rivals of
    /// equal priority that disagree with it.
    func winner(of field: SettingField, among members: [Int]) -> (chosen: Int, rivals: [Int])? {
        let offering = members.filter { field.read(groups[$0].defaults) != nil }
        guard let priority = offering.map({ groups[$0].priority }).max() else { return nil }
        let top = offering.filter { groups[$0].priority == priority }
        let chosen = groups[top[0]].defaults
        return (top[0], top.dropFirst().filter { !field.same(groups[$0].defaults, chosen) })
    }

    public func resolve(_ machine: Machine) -> EffectiveMachine {
        let members = membership(of: machine)
        var settings = machine.settings
        var origins: [String: ValueOrigin] = [:]
        for field in SettingField.inheritable {
            if field.read(machine.settings) != nil {
                origins[field.path] = .machine(machine.settings.locations[field.path] ?? machine.metadata.location)
                if field.hasEntries {
                    origins.merge(field.entries(of: machine.settings).mapValues { .machine($0) }) { _, entry in entry }
                }
            } else if let (chosen, _) = winner(of: field, among: members) {
                let group = groups[chosen]
                field.copy(&settings, group.defaults)
                origins[field.path] = .group(group.name, group.defaults.locations[field.path] ?? group.metadata.location)
                if field.hasEntries {
                    origins.merge(field.entries(of: group.defaults).mapValues { .group(group.name, $0) }) { _, entry in entry }
                }
            }
        }
        if machine.settings.bmc?.address == nil {
            // Group BMC defaults apply only to machines that have a BMC of their own.
            settings.bmc = nil
            origins = origins.filter { !$0.key.hasPrefix("bmc.") }
        }
        return EffectiveMachine(machine: machine, groups: members.map { groups[$0].name }, settings: settings,
                                origins: origins)
    }

    /// Conflicting group defaults, and BMCs left without credentials, across all machines.
    ///
    /// Machines that belong to the same groups share one analysis, so a fleet of ten
    /// thousand machines in a handful of group combinations costs a handful of analyses.
    public func problems(in machines: [Machine]) -> [Diagnostic] {
        struct Analysis {
            var conflicts: [(field: SettingField, chosen: Int, rival: Int)]
            var givesCredentials: Bool
        }
        let credentials = SettingField.inheritable.first { $0.path == "bmc.credentials" }!
        var analyses: [[Int]: Analysis] = [:]
        var conflicted: [ConflictKey: [String]] = [:]
        var diagnostics: [Diagnostic] = []
        for machine in machines {
            let members = membership(of: machine)
            let analysis = analyses[members] ?? {
                var conflicts: [(SettingField, Int, Int)] = []
                for field in SettingField.inheritable {
                    guard let (chosen, rivals) = winner(of: field, among: members) else { continue }
                    conflicts += rivals.map { (field, chosen, $0) }
                }
                let analysis = Analysis(conflicts: conflicts, givesCredentials: winner(of: credentials, among: members) != nil)
                analyses[members] = analysis
                return analysis
            }()
            for (field, chosen, rival) in analysis.conflicts where field.read(machine.settings) == nil {
                let (first, second) = (groups[chosen], groups[rival])
                let key = ConflictKey(first: first.name, second: second.name, field: field.path, priority: first.priority,
                                      firstValue: field.read(first.defaults)!, secondValue: field.read(second.defaults)!,
                                      location: second.defaults.locations[field.path] ?? second.metadata.location)
                conflicted[key, default: []].append(machine.name)
            }
            if let bmc = machine.settings.bmc, bmc.address != nil, bmc.credentials == nil, !analysis.givesCredentials {
                diagnostics.append(Diagnostic(
                    "machine '\(machine.name)' has a BMC but no 'bmc.credentials': set it on the machine or in a group's defaults",
                    at: machine.settings.locations["bmc.address"] ?? machine.metadata.location))
            }
        }
        for (key, names) in conflicted {
            let shown = names.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            let more = names.count > 3 ? " and \(names.count - 3) more" : ""
            diagnostics.append(Diagnostic(
                "groups '\(key.first)' and '\(key.second)' both set '\(key.field)' with priority \(key.priority) but disagree ('\(key.firstValue)' vs '\(key.secondValue)') for machine\(names.count == 1 ? "" : "s") \(shown)\(more); give one group a higher priority, or set '\(key.field)' on the machine",
                at: key.location))
        }
        return diagnostics
    }

    struct ConflictKey: Hashable {
        var first: String, second: String, field: String, priority: Int
        var firstValue: String, secondValue: String
        var location: SourceLocation
    }
}
