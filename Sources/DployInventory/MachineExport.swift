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
        // Everything below that comes from the machine's own report is escaped: libyaml ends a
        // line at CR, NEL, U+2028 and U+2029 as well as LF, and a report that could end one
        // would add YAML (a Task, say) of its own to a file the operator commits.
        if let vendor, !vendor.isEmpty { labels.append("vendor: \"\(escaped(vendor))\"") }
        if let model, !model.isEmpty { labels.append("model: \"\(escaped(model))\"") }
        let reported = [machine.hardware?.vendor, machine.hardware?.model].compactMap { $0 }.joined(separator: " ")
        var lines = [
            "# Discovered by dploy: \(escaped(String(String.UnicodeScalarView(reported.unicodeScalars.prefix(120)))))",
            "# Review the name and labels, add a profile (or a group), then commit it.",
            "apiVersion: dploy.org/v1",
            "kind: Machine",
            "metadata:",
            "  name: \(suggested)",
        ]
        if !labels.isEmpty { lines.append("  labels: {\(labels.joined(separator: ", "))}") }
        lines += ["spec:", "  mac: \"\(machine.mac)\""]
        if let address = machine.address, case .success(let ip) = IPAddress.parse(address) { lines.append("  ip: \(ip.unmapped)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` as the inside of a YAML double-quoted scalar, on one line: every control
    /// character, line or paragraph separator, byte-order mark and non-character is written
    /// as an escape (`\r`, `\x85`, `\u2028`), and so are `\` and `"`.
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C: result += "\\\\"
            case 0x22: result += "\\\""
            case 0x09: result += "\\t"
            case 0x0A: result += "\\n"
            case 0x0D: result += "\\r"
            case 0x20...0x7E, 0xA0...0x2027, 0x202A...0xFEFE, 0xFF00...0xFFFD, 0x10000...:
                result.unicodeScalars.append(scalar)
            case ..<0x100: result += "\\x" + hex(scalar.value, digits: 2)
            default: result += "\\u" + hex(scalar.value, digits: 4)
            }
        }
        return result
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
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
