import DploySpec

/// `dploy validate --json`.
struct ValidationReport: Encodable {
    struct Problem: Encodable {
        var file: String, line: Int, column: Int, message: String
    }
    var valid: Bool
    var summary: String
    var errors: [Problem]
    var machine: [String: String]?

    init(_ result: LoadResult, show: EffectiveMachine?) {
        valid = result.isValid
        summary = result.summary
        errors = result.diagnostics.map {
            Problem(file: $0.location.file, line: $0.location.line, column: $0.location.column, message: $0.message)
        }
        machine = show.map { machine in
            var fields = ["name": machine.name, "mac": machine.machine.mac.value.description,
                          "generation": String(machine.generation), "power": machine.power.rawValue]
            if let ip = machine.machine.ip { fields["ip"] = ip.value.description }
            if let address = machine.settings.bmc?.address { fields["bmc.address"] = address }
            for field in machine.inheritedFieldValues { fields[field.key] = field.value }
            return fields
        }
    }
}
