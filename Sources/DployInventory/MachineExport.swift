import DploySpec

/// Turns a discovered machine into a Machine document to commit: discovered machines are
/// not desired state until someone puts them in git.
public enum MachineExport {
    public static func document(for machine: ObservedMachine, name: String? = nil) -> String {
        let vendor = machine.hardware?.vendor.map(labelValue)
        let model = machine.hardware?.model.map { labelValue(String($0.prefix { $0 != "(" })) }
        let suffix = machine.mac.hyphenated.split(separator: "-").suffix(2).joined()
        let suggested = name ?? dnsLabel([model ?? "machine", suffix].joined(separator: "-"))
        var labels: [String] = []
        // Values come from a machine's own report: quoted, and stripped of anything that
        // could end a line, so a report cannot add YAML of its own.
        if let vendor, !vendor.isEmpty { labels.append("vendor: \"\(vendor)\"") }
        if let model, !model.isEmpty { labels.append("model: \"\(model)\"") }
        let reported = [machine.hardware?.vendor, machine.hardware?.model].compactMap { $0 }.joined(separator: " ")
        var lines = [
            "# Discovered by dploy: \(String(reported.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(120)))",
            "# Review the name and labels, add a profile (or a group), then commit it.",
            "apiVersion: dploy.org/v1",
            "kind: Machine",
            "metadata:",
            "  name: \(suggested)",
        ]
        if !labels.isEmpty { lines.append("  labels: {\(labels.joined(separator: ", "))}") }
        lines += ["spec:", "  mac: \"\(machine.mac)\""]
        if let address = machine.address, case .success = IPAddress.parse(address) { lines.append("  ip: \(address)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value: letters, digits, '-', '_' and '.', at most 63, alphanumeric at both ends.
    static func labelValue(_ text: String) -> String {
        let mapped = String(text.lowercased().map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" ? $0 : "-" })
            .filter(\.isASCII)
        return trimmed(String(mapped.prefix(63)))
    }

    /// A DNS label made from free text.
    static func dnsLabel(_ text: String) -> String {
        let mapped = String(text.lowercased().map { ($0.isLetter || $0.isNumber) && $0.isASCII ? $0 : "-" })
        let collapsed = mapped.split(separator: "-", omittingEmptySubsequences: true).joined(separator: "-")
        let label = trimmed(String(collapsed.prefix(63)))
        return label.isEmpty ? "machine" : label
    }

    private static func trimmed(_ text: String) -> String {
        String(text.drop { !($0.isLetter || $0.isNumber) }.reversed().drop { !($0.isLetter || $0.isNumber) }.reversed())
    }
}
