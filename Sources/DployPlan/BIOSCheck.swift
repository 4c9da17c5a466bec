import DploySpec

/// `bios.attributes` checked against what each machine's BIOS last reported, as a rule of
/// loading (`FleetValidator.rules`, run by the controller's loader for a folder and for every
/// commit): an attribute the BIOS does not list, or a value of another type than the BIOS
/// holds, is a spec error at the line that writes it (the group's file, when the machine
/// inherits it), so a commit that has one is refused and the desired state in force stays.
///
/// What the BIOS takes is known only once it was read: with no reading of a machine, nothing
/// of it is checked. A reading that comes after its desired state was accepted is the
/// planner's to report (`BIOSDrift`'s `biosInvalid` reason, which withholds the BIOS step).
/// The rule is the same (`BIOSDrift.problem`), so both say it in the same words.
public enum BIOSCheck {
    /// How many machines one error names; the rest are counted.
    static let machinesShown = 3

    /// - Parameter bios: each machine's last BIOS reading, by MAC.
    public static func diagnostics(_ fleet: Fleet, bios: [MACAddress: ObservedBIOS]) -> [Diagnostic] {
        guard !bios.isEmpty else { return [] }
        let resolver = DefaultsResolver(groups: fleet.groups)
        // A group default that one BIOS model refuses is refused by each member that has it:
        // one error per line and problem, naming the members, not one per member.
        var machines: [Found: [String]] = [:]
        for machine in fleet.machines {
            guard let observed = bios[machine.mac.value] else { continue }
            let effective = resolver.resolve(machine)
            guard let desired = effective.settings.bios else { continue }
            for (name, wanted) in desired.attributes {
                guard let problem = BIOSDrift.problem(name, wanted, observed) else { continue }
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

    private struct Found: Hashable {
        var location: SourceLocation
        var group: String?
        var problem: String
    }
}
