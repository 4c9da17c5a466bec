import Foundation
import DployInventory
import DploySpec

/// Baseline × inventory → firmware steps. Pure, like the rest of the planner.
enum FirmwareDrift {
    static func plan(machine: String, baseline: FirmwareBaseline, observed: ObservedFirmware) -> (reasons: [Reason], actions: [Action]) {
        if !baseline.models.isEmpty, let model = observed.model, !baseline.models.contains(model) {
            return ([Reason(.firmwareModelMismatch,
                            "firmware: baseline \(baseline.name) is for \(baseline.models.joined(separator: ", ")), not \(model); left as it is")], [])
        }
        var reasons: [Reason] = [], actions: [Action] = []
        for component in baseline.components {
            guard let installed = observed.versions[component.name] else { continue }
            guard !matches(installed: installed, wanted: component.version) else { continue }
            let change = "\(component.name) \(installed) → \(component.version)"
            reasons.append(Reason(.firmwareDrift, "firmware: \(change) (baseline \(baseline.name))"))
            actions.append(.updateFirmware(machine: machine, FirmwareTarget(component, installed: installed),
                                           reason: Reason(.firmwareDrift, change)))
        }
        return (reasons, actions)
    }

    /// iLO reports versions with a date (`U30 v2.90 (07/20/2023)`, `2.96 Aug 17 2023`);
    /// baselines name the version alone (`U30 v2.90`, `2.96`). Equal, or the wanted version
    /// followed by a space, is a match.
    static func matches(installed: String, wanted: String) -> Bool {
        let installed = installed.trimmingCharacters(in: .whitespaces), wanted = wanted.trimmingCharacters(in: .whitespaces)
        return installed == wanted || installed.hasPrefix(wanted + " ")
    }
}
