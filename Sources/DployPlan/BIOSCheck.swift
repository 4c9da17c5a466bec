import DploySpec

/// `bios.attributes` checked against what each machine's BIOS last reported, as a rule of
/// loading (`FleetValidator.rules`, run by the controller's loader for a folder and for every
/// commit): an attribute the BIOS does not list, or a value of another type than the BIOS
/// holds, is a spec error at the line that writes it (the group's file, when the machine
/// inherits it), so a commit that has one is refused and the desired state in force stays.
///
/// What the BIOS takes is known only once it was read: with no reading of a machine, nothing
/// of it is checked. What a reading tells the check is its names and their values' types
/// (`BIOSAttributeTypes`), which the store keeps, so a check from the store and one from a
/// fresh reading say the same. A reading that comes after its desired state was accepted is
/// the planner's to report (`BIOSDrift`'s `biosInvalid` reason, which withholds the BIOS step),
/// by the same rule in the same words (`BIOSDrift.problem`).
public enum BIOSCheck {
    /// How many machines one error names; the rest are counted.
    static let machinesShown = 3

    /// - Parameter bios: the names and types each machine's BIOS listed when last read, by MAC.
    public static func diagnostics(_ fleet: Fleet, bios: [MACAddress: BIOSAttributeTypes]) -> [Diagnostic] {
        guard !bios.isEmpty else { return [] }
        let resolver = DefaultsResolver(groups: fleet.groups)
        // A group default that one BIOS model refuses is refused by each member that has it:
        // one error per line and problem, naming the members, not one per member.
        var machines: [Found: [String]] = [:]
        // Resolving a machine costs its groups' defaults: a machine that sets no BIOS, in a
        // fleet whose groups set none, has nothing to check (this runs at every load).
        let groupsSetBIOS = fleet.groups.contains { $0.defaults.bios != nil }
        for machine in fleet.machines {
            guard groupsSetBIOS || machine.settings.bios != nil, let observed = bios[machine.mac.value] else { continue }
            let effective = resolver.resolve(machine)
            guard let desired = effective.settings.bios else { continue }
            for (name, wanted) in desired.attributes {
                guard let problem = Self.problem(name, wanted, observed) else { continue }
                let origin = effective.origins["bios.attributes.\(name)"] ?? effective.origins["bios.attributes"]
                let found = switch origin {
                case .group(let group, let location): Found(location: location, group: group, problem: problem)
                case .machine(let location): Found(location: location, group: nil, problem: problem)
                case nil: Found(location: machine.metadata.location, group: nil, problem: problem)
                }
                machines[found, default: []].append(machine.name)
            }
        }
        return machines.map { found, names in
            let names = names.sorted()
            let shown = names.prefix(machinesShown).map { "'\($0)'" }.joined(separator: ", ")
            let more = names.count > machinesShown ? " and \(names.count - machinesShown) more" : ""
            let whose = "machine\(names.count == 1 ? "" : "s") \(shown)\(more)"
            let subject = found.group.map { "group '\($0)' default, for \(whose)" } ?? whose
            return Diagnostic("\(subject): \(found.problem)", at: found.location)
        }.sorted()
    }

    /// `BIOSDrift.problem`'s rule on names and types alone.
    static func problem(_ name: String, _ wanted: BIOSValue, _ listed: BIOSAttributeTypes) -> String? {
        guard let type = listed.types[name] else { return BIOSDrift.unlisted(name, names: listed.types.keys) }
        if let type, type != wanted.type { return BIOSDrift.wrongType(name, wanted, holds: type.name) }
        return nil
    }

    private struct Found: Hashable {
        var location: SourceLocation
        var group: String?
        var problem: String
    }
}

extension BIOSAttributeTypes {
    /// What the loader's check keeps of a reading the planner reads.
    public init(_ observed: ObservedBIOS) {
        self.init(names: observed.names, current: observed.current, pending: observed.pending)
    }
}
