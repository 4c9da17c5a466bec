import DployRender
import DploySpec

/// The BIOS as the BMC reports it, for the planner: current values, every name the BIOS
/// lists, and the values pending for the next reboot (nil: the BIOS has no settings resource).
public struct ObservedBIOS: Hashable, Sendable {
    public var current: [String: BIOSValue]
    public var names: Set<String>
    public var pending: [String: BIOSValue]?
    /// The pending settings' ETag when they were read: a BIOS step sends it as `If-Match`.
    public var settingsETag: String?

    public init(current: [String: BIOSValue], names: Set<String>? = nil, pending: [String: BIOSValue]?, settingsETag: String? = nil) {
        self.current = current
        self.names = names ?? Set(current.keys)
        self.pending = pending
        self.settingsETag = settingsETag
    }
}

/// One BIOS attribute a plan sets: its current value and the one the spec wants.
public struct BIOSChange: Hashable, Sendable, Codable {
    public var name: String
    /// The value the machine runs with now; nil when the BIOS lists the name with no value
    /// dploy reads (null).
    public var current: BIOSValue?
    public var desired: BIOSValue

    public init(name: String, current: BIOSValue?, desired: BIOSValue) {
        self.name = name
        self.current = current
        self.desired = desired
    }

    /// `ProcHyperthreading: Enabled → Disabled`
    public var text: String { "\(name): \(current?.description ?? "(none)") → \(desired)" }
}

/// Desired `bios.attributes` × observed BIOS → one PATCH of the drifted attributes, a note
/// for those already pending, or, when the BIOS does not take the spec as written, no BIOS
/// step for that machine and a `biosInvalid` reason and note. The loader refuses such a spec
/// once it knows the BIOS (`BIOSCheck`); the reason is for a reading that came after the
/// desired state in force was accepted (a daemon's first run, a machine read for the first
/// time). A BIOS answers for one machine only: what it refuses never stops the plan of
/// another. Pure, like the rest of the planner.
enum BIOSDrift {
    struct Outcome {
        /// For the machine's plan (when it has one).
        var reasons: [Reason] = []
        var actions: [Action] = []
        /// For the plan's notes, named by machine: attributes already pending (nothing to do
        /// but reboot), and why a machine's BIOS step is withheld.
        var notes: [Reason] = []
    }

    /// How many of one machine's BIOS problems a reason lists; the rest are counted.
    static let problemsShown = 5

    /// Why the BIOS `observed` does not take `name: wanted` as written, or nil when it does.
    /// The plan's rule, for a reading newer than the desired state in force; the loader's
    /// `BIOSCheck` asks the same of the names and types a reading kept (`BIOSAttributeTypes`),
    /// in the same words, less the BIOS's value.
    static func problem(_ name: String, _ wanted: BIOSValue, _ observed: ObservedBIOS) -> String? {
        // Never PATCH a name the BIOS does not list: iLO would accept the request and drop
        // the attribute at boot (PropertyUnknown in @Redfish.Settings.Messages), so the plan
        // would ask for it again on every run.
        guard observed.names.contains(name) else { return unlisted(name, names: observed.names) }
        if let current = observed.current[name], !current.isSameType(as: wanted) {
            return wrongType(name, wanted, holds: "\(current.typeName) (\(current))")
        }
        // A pending value is checked as the current one is: compared across types it would
        // never equal the desired value, and the same PATCH would be planned on every run.
        if let next = observed.pending?[name], !next.isSameType(as: wanted) {
            return wrongType(name, wanted, holds: "\(next.typeName) (\(next))", pending: true)
        }
        return nil
    }

    /// A name the BIOS does not list, with the closest one it does.
    static func unlisted(_ name: String, names: some Sequence<String>) -> String {
        "'bios.attributes.\(name)': the BIOS does not list an attribute '\(name)'; check its name (BIOS attribute names are case-sensitive)"
            + Suggestion.phrase(for: name, in: names)
    }

    /// A value of another type than the BIOS holds (`holds`: "an integer (20)", or the type alone).
    static func wrongType(_ name: String, _ wanted: BIOSValue, holds: String, pending: Bool = false) -> String {
        "'bios.attributes.\(name)' is \(wanted.typeName) (\(wanted)), but the BIOS\(pending ? "'s pending settings hold" : " holds") \(holds); write it as the BIOS does"
    }

    /// - Parameter location: where `bios.attributes` was written (the machine or the group
    ///   whose default it is), named in a `biosInvalid` reason.
    static func plan(machine: String, desired: BIOSSettings, observed: ObservedBIOS, location: SourceLocation) -> Outcome {
        var outcome = Outcome()
        var changes: [BIOSChange] = [], pending: [BIOSChange] = [], problems: [String] = []
        for (name, wanted) in desired.attributes.sorted(by: { $0.key < $1.key }) {
            if let problem = problem(name, wanted, observed) {
                problems.append(problem)
                continue
            }
            // What the machine will run with after its next reboot.
            let current = observed.current[name]
            let next = observed.pending?[name] ?? current
            let change = BIOSChange(name: name, current: current, desired: wanted)
            if next != wanted {
                changes.append(change)
            } else if current != wanted {
                pending.append(change)
            }
        }
        guard problems.isEmpty else {
            let shown = problems.prefix(problemsShown).joined(separator: "; ")
            let more = problems.count > problemsShown ? "; … and \(problems.count - problemsShown) more" : ""
            let message = "BIOS settings withheld: \(location.file):\(location.line):\(location.column): \(shown)\(more)"
            outcome.reasons.append(Reason(.biosInvalid, message))
            outcome.notes.append(Reason(.biosInvalid, "\(machine): \(message)"))
            return outcome
        }
        if !changes.isEmpty, observed.pending == nil {
            // No settings object: a PATCH has nowhere to go, and the current resource is
            // read-only (iLO answers 405). Planning it would fail on every run.
            let message = "BIOS \(changes.map(\.text).joined(separator: ", ")) differ, but the BIOS names no settings object "
                + "(@Redfish.Settings.SettingsObject): it takes no changes over Redfish, so none is planned"
            outcome.reasons.append(Reason(.biosNoSettings, message))
            outcome.notes.append(Reason(.biosNoSettings, "\(machine): \(message)"))
        } else if !changes.isEmpty {
            let list = changes.map(\.text).joined(separator: ", ")
            outcome.reasons.append(Reason(.biosDrift, "BIOS: \(list) (applies at next reboot)"))
            outcome.actions.append(.setBIOSAttributes(machine: machine, changes, ifMatch: observed.settingsETag,
                                                      reason: Reason(.biosDrift, "\(changes.count) BIOS attribute\(changes.count == 1 ? "" : "s") differ")))
        }
        if !pending.isEmpty {
            outcome.notes.append(Reason(.biosPendingReboot,
                                        "\(machine): BIOS \(pending.map(\.text).joined(separator: ", ")) pending: applies at next reboot"))
        }
        return outcome
    }
}
