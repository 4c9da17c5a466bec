extension EffectiveMachine {
    /// The machine's effective spec as aligned text, each inherited value followed by the
    /// group and place it came from: what `dploy validate --show NAME` prints.
    public var report: String {
        let rows = reportRows.map { ($0.field, $0.value, $0.origin) }
        let fieldWidth = rows.map(\.0.count).max() ?? 0
        let valueWidth = rows.map(\.1.count).max() ?? 0
        var lines = ["machine \(name)  (\(machine.metadata.location))"]
        for (field, value, from) in rows {
            let padded = field.padding(fieldWidth) + "  " + (from.isEmpty ? value : value.padding(valueWidth) + "  " + from)
            lines.append("  " + padded)
        }
        return lines.joined(separator: "\n")
    }

    /// One field of the effective spec: its value and where it came from ("" for the
    /// machine itself).
    public struct ReportRow: Hashable, Sendable {
        public var field: String
        public var value: String
        public var origin: String
    }

    /// The effective spec, field by field, as `report` prints it and the web page shows it.
    public var reportRows: [ReportRow] {
        var rows: [ReportRow] = []
        func row(_ field: String, _ value: String?, _ origin: ValueOrigin?) {
            guard let value else { return }
            let from = switch origin {
            case .group(let group, let location): "from group \(group) (\(location))"
            case .machine, nil: ""
            }
            rows.append(ReportRow(field: field, value: value, origin: from))
        }
        row("mac", machine.mac.value.description, nil)
        row("ip", machine.ip?.value.description, nil)
        row("labels", machine.metadata.labels.isEmpty ? nil
            : machine.metadata.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","), nil)
        row("groups", groups.isEmpty ? "(none)" : groups.joined(separator: ", "), nil)
        row("bmc.address", settings.bmc?.address, nil)
        let builtInDefaults = ["generation": "0", "power": PowerPolicy.unmanaged.rawValue]
        for field in SettingField.inheritable {
            if let value = field.read(settings) {
                row(field.path, value, origins[field.path])
            } else if let value = builtInDefaults[field.path] {
                rows.append(ReportRow(field: field.path, value: value, origin: "(default)"))
            }
        }
        return rows
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
