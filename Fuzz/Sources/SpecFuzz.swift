import DploySpec

/// The bytes as one spec file: the YAML gate (size, UTF-8, libyaml's event parser bounding
/// depth, aliases and expanded nodes), Yams's composer, the decoders, then the loader's
/// cross-document checks and the group defaults of every machine.
///
/// Besides no crash and no hang (the gate's promise: linear in the file), the diagnostics
/// must point into the file and print as one line each: `dploy validate`, the daemon's log
/// and its status page show them, and a value quoted in a message must not forge a line.
enum SpecFuzz {
    static let path = "fuzz.yaml"

    static func run(_ bytes: [UInt8]) {
        let parsed = SpecFileParser().parse(SpecFile(path: path, contents: bytes))
        FuzzCheck.require(parsed.documents.count <= parsed.documentCount,
                          "\(parsed.documents.count) documents decoded from \(parsed.documentCount)")
        let result = SpecLoader().assemble([parsed])
        for diagnostic in result.diagnostics {
            FuzzCheck.require(diagnostic.location.file == path, "diagnostic outside the file: \(diagnostic.location)")
            FuzzCheck.require(diagnostic.location.line >= 1 && diagnostic.location.column >= 1,
                              "diagnostic at \(diagnostic.location.line):\(diagnostic.location.column)")
            FuzzCheck.require(FuzzCheck.isOneLine(diagnostic.description),
                              "diagnostic is not one line: \(diagnostic.description.debugDescription)")
        }
        guard result.isValid else { return }
        let resolver = DefaultsResolver(groups: result.fleet.groups)
        for machine in result.fleet.machines {
            let effective = resolver.resolve(machine)
            FuzzCheck.require(effective.name == machine.name, "resolved \(machine.name) as \(effective.name)")
        }
    }
}
