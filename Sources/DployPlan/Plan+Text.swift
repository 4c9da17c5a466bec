/// The plan as an operator reads it, terraform style.
extension Plan {
    public func text(color: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        let width = max(8, (machines.map(\.machine.count) + [4]).max()!)
        func pad(_ text: String) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        let indent = String(repeating: " ", count: width + 6)

        var lines = ["dploy plan  ·  source \(source)", ""]
        for machine in machines {
            let (sign, code) = switch machine.change {
            case .add: ("+", "32")
            case .change: ("~", "33")
            case .remove: ("-", "31")
            }
            let reasons = machine.reasons.isEmpty ? [""] : machine.reasons.map(\.message)
            lines.append("  \(paint(sign, code)) \(paint(pad(machine.machine), "1"))  \(reasons[0])")
            lines += reasons.dropFirst().map { indent + $0 }
            lines += machine.actions.flatMap(\.lines).map { indent + $0 }
        }
        if !shared.isEmpty {
            lines.append("    \(pad("shared"))  " + (shared.first.map(\.line) ?? ""))
            lines += shared.dropFirst().map { indent + $0.line }
        }
        if !machines.isEmpty || !shared.isEmpty { lines.append("") }
        if !tasks.isEmpty {
            lines.append("  Tasks:")
            for task in tasks {
                lines.append("  \(paint("*", "36")) \(paint(task.task, "1")) @\(task.revision)  \(task.reason.message)")
                lines.append("      \(task.summary)")
                lines.append("      on \(task.targets.count): \(Self.list(task.targets, limit: 10))")
            }
            lines.append("")
        }
        lines += notes.map { "  note: \($0.message)" }
        if !notes.isEmpty { lines.append("") }
        lines.append(hasChanges ? summary : "No changes. The fleet's boot and DHCP files match the desired state, and no task run is pending.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `a, b, c and 7 more`: a task on a thousand machines stays one line.
    static func list(_ names: [String], limit: Int) -> String {
        let shown = names.prefix(limit).joined(separator: ", ")
        return names.count > limit ? shown + " and \(names.count - limit) more" : shown
    }
}

extension Action {
    /// `write   http/ipxe/94-18-82-00-00-01.ipxe`: the step as `dploy plan` prints it.
    public var line: String {
        switch self {
        case .writeFile(let path, _, _): "write".padding(toLength: 8) + path.description
        case .removeFile(let path, _, _): "remove".padding(toLength: 8) + path.description
        case .writeDHCPConfig(let path, let reason): "write".padding(toLength: 8) + path.description + "  (\(reason.message))"
        case .reloadDHCP(let command, _): "reload".padding(toLength: 8) + command
        case .bootOnceFromNetwork: "bmc     boot once from network"
        case .power(_, let power, _): "bmc     power \(power.rawValue)"
        case .updateFirmware(_, let target, _): "bmc     firmware \(target.component) \(target.installed) → \(target.version)"
        case .setBIOSAttributes(_, let changes, _, _): "bmc     bios " + changes.map(\.text).joined(separator: ", ")
        case .configureRAID(_, let change, _): change.lines.joined(separator: "; ")
        }
    }

    /// The step as `dploy plan` prints it, one line per BIOS attribute (a PATCH of ten
    /// attributes is ten lines an operator can read), one line for anything else.
    public var lines: [String] {
        if case .setBIOSAttributes(_, let changes, _, _) = self {
            return changes.map { "bmc     bios \($0.text)" }
        }
        if case .configureRAID(_, let change, _) = self { return change.lines }
        return [line]
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}
