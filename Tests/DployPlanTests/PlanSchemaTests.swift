import DployController
import DployInventory
import DployPlan
import DployTestSupport
import DploySpec
import Foundation
import Testing

/// `schemas/plan.schema.json` describes what `dploy plan --json` prints. Programs key on
/// its reason codes and action kinds, so the schema must list exactly the ones dploy has,
/// and real plans, with every kind of step, must pass the real validator.
@Suite("The plan's JSON Schema", .ownThread)
struct PlanSchemaTests {
    static let schemaPath = repositoryRoot.appendingPathComponent("schemas/plan.schema.json").path

    static func schema() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: schemaPath))
        return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("the schema and docs/plan.md list exactly dploy's reason codes and action kinds")
    func codesAgree() throws {
        let definitions = try #require(try Self.schema()["$defs"] as? [String: Any])
        let reason = try #require(definitions["reason"] as? [String: Any])
        let codes = try #require(((reason["properties"] as? [String: Any])?["code"] as? [String: Any])?["enum"] as? [String])
        #expect(codes == Reason.Code.allCases.map(\.rawValue))

        let branches = try #require((definitions["action"] as? [String: Any])?["oneOf"] as? [[String: Any]])
        let kinds = branches.compactMap { (($0["properties"] as? [String: Any])?["kind"] as? [String: Any])?["const"] as? String }
        #expect(kinds == Action.Kind.allCases.map(\.rawValue))
        let taskActions = ((definitions["taskPlan"] as? [String: Any])?["properties"] as? [String: Any])?["action"] as? [String: Any]
        #expect(taskActions?["enum"] as? [String] == TaskActionKind.allCases.map(\.rawValue))

        // The first column of docs/plan.md's tables: `| `code` | …`.
        let docs = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/plan.md"), encoding: .utf8)
        let documented = docs.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            return String(line.dropFirst(3).prefix { $0 != "`" })
        }
        #expect(documented == Action.Kind.allCases.map(\.rawValue) + Reason.Code.allCases.map(\.rawValue))
    }

    @Test("plans with every kind of step pass check-jsonschema, read back equal, and a plan with an unknown code does not pass",
          .requires(.checkJSONSchema))
    func realPlansValidate() throws {
        let checker = try Tool.checkJSONSchema.require()
        let plans = try Self.plansWithEveryStep()
        let kinds = Set(plans.flatMap(\.actions).map(\.kind))
        #expect(kinds == Set(Action.Kind.allCases), "missing: \(Set(Action.Kind.allCases).subtracting(kinds))")

        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-plans-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // As `dploy plan --json` encodes it.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var files: [String] = []
        for (index, plan) in plans.enumerated() {
            let data = try encoder.encode(plan)
            #expect(try JSONDecoder().decode(Plan.self, from: data) == plan, "plan \(index) reads back as it was")
            let file = scratch.appendingPathComponent("plan-\(index).json").path
            try data.write(to: URL(fileURLWithPath: file))
            files.append(file)
        }
        let valid = try Self.run(checker, files)
        #expect(valid.status == 0, "\(valid.output)")

        // The same plan with a code dploy never gives, and a power step without its power.
        var tampered = String(decoding: try encoder.encode(plans[0]), as: UTF8.self)
        tampered = tampered.replacingOccurrences(of: "\"code\" : \"newMachine\"", with: "\"code\" : \"madeUp\"")
        let badCode = scratch.appendingPathComponent("bad-code.json").path
        try Data(tampered.utf8).write(to: URL(fileURLWithPath: badCode))
        let powerless = scratch.appendingPathComponent("bad-power.json").path
        let powerPlan = try #require(plans.first { $0.actions.contains { $0.kind == .power } })
        try Data(String(decoding: try encoder.encode(powerPlan), as: UTF8.self)
            .replacingOccurrences(of: "\"power\" : \"cycle\",", with: "").utf8).write(to: URL(fileURLWithPath: powerless))
        for file in [badCode, powerless] {
            #expect(try Self.run(checker, [file]).status != 0, "\(file) should not pass")
        }
    }

    @Test("a plan saved by an older dploy is refused with a message that says to plan again")
    func olderFormatRefused() throws {
        let old = #"{"source": "examples/lab", "fingerprint": "x", "machines": [], "shared": [], "notes": []}"#
        #expect {
            try JSONDecoder().decode(Plan.self, from: Data(old.utf8))
        } throws: { error in
            "\(error)".contains("run dploy plan again")
        }
    }

    /// Plans of the lab that together hold every kind of step: the first plan (new
    /// machines, shared files, a reload); a reinstall, power, firmware and BIOS drift once
    /// applied; and a removal with prune on.
    static func plansWithEveryStep() throws -> [Plan] {
        let lab = try LabCopy(config: LabCopy.config(extraDHCP: ", reload: \"true\"", prune: "{enabled: true, maxRemovals: 5}"),
                              tasks: true)
        let reconciler = try lab.reconciler()
        let first = try reconciler.plan()
        _ = try reconciler.apply(first)

        var observed = try reconciler.observe()
        observed.installedGenerations[try #require(MACAddress("94:18:82:3a:5c:2e"))] = 0
        let web01 = try #require(MACAddress("94:18:82:3a:5c:10"))
        observed.power[web01] = .off
        observed.firmware[web01] = ObservedFirmware(model: "ProLiant DL360 Gen10", versions: ["iLO 5": "2.96 Aug 17 2023"])
        try BIOSDriftTests.addBIOS(to: lab, "    attributes: {ProcHyperthreading: Disabled}")
        observed.bios[web01] = ObservedBIOS(current: ["ProcHyperthreading": .string("Enabled")], pending: [:], settingsETag: "W/\"5E771001\"")
        try RAIDDriftTests.addStorage(to: lab, "[{name: data, raid: Raid1, drives: [\"1I:1:3\", \"1I:1:4\"]}]")
        observed.storage[web01] = RAIDDriftTests.smartArray(logicalDrives: [])
        let drift = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings).plan

        try FileManager.default.removeItem(atPath: lab.path("machines/rack-r2.yaml"))
        try lab.write("groups.yaml", try lab.read("groups.yaml").replacingOccurrences(of: "members: [web-04, db-03]", with: "members: [web-04]"))
        for task in try FileManager.default.contentsOfDirectory(atPath: lab.path("tasks")) {
            try lab.write("tasks/\(task)", "")
        }
        let removal = try lab.reconciler().plan().plan
        return [first.plan, drift, removal]
    }

    static func run(_ tool: String, _ files: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--schemafile", schemaPath] + files
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
