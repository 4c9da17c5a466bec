import ArgumentParser
import DploySpec
import Foundation

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a folder of specs and report every error with file:line:column.",
        discussion: """
            Reads every *.yaml and *.yml below PATH (hidden folders, the controller's dploy.yaml \
            and .dployignore matches are skipped). Exits 0 when the specs are valid, 1 otherwise.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "A folder of specs, or a single spec file.")
    var path: String = "."

    @Option(name: .long, help: ArgumentHelp("Print a machine's effective spec, after group defaults.", valueName: "machine"))
    var show: String?

    func run() throws {
        let (files, knownPaths) = try readSpecs()
        let result = SpecLoader(knownPaths: knownPaths.isEmpty ? nil : knownPaths).load(files)

        if options.json {
            try printJSON(ValidationReport(result, show: show.flatMap { effective(named: $0, in: result) }))
        } else {
            for diagnostic in result.diagnostics { printError(diagnostic.description) }
            if result.isValid { print(result.summary) } else {
                printError("\(result.diagnostics.count) error\(result.diagnostics.count == 1 ? "" : "s") in \(path)")
            }
            if let show, result.isValid {
                guard let machine = effective(named: show, in: result) else {
                    printError("no machine named '\(show)' in \(path)")
                    throw ExitCode.failure
                }
                print(machine.report)
            }
        }
        if !result.isValid { throw ExitCode.failure }
    }

    private func readSpecs() throws -> ([SpecFile], Set<String>) {
        do {
            return try SpecDirectory(root: path).read()
        } catch let error as SpecSourceError {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }

    private func effective(named name: String, in result: LoadResult) -> EffectiveMachine? {
        result.fleet.machine(named: name).map(DefaultsResolver(groups: result.fleet.groups).resolve)
    }
}

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
