import ArgumentParser
import DployController
import DployPlan
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change, and why, without changing anything.",
        discussion: "Exit codes: 0 nothing to do, 2 changes pending, 1 error."
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Plain text, even on a terminal.")
    var noColor = false

    @Option(name: .long, help: ArgumentHelp("Save the plan, for `dploy apply PLANFILE`.", valueName: "planfile"))
    var out: String?

    func run() throws {
        // A saved plan is applied later: its installers must carry the tokens apply will
        // keep, so saving one makes the key; a plan that is only shown writes nothing.
        let result = try makePlan(config, makingCallbackKey: out != nil).result
        if let out { try SavedPlan.write(result.plan, to: out) }
        if options.json {
            try printJSON(result.plan)
        } else {
            print(result.plan.text(color: Terminal.wantsColor(disabled: noColor)), terminator: "")
            if let out { print("Saved the plan to \(out); apply it with: dploy apply \(out)") }
        }
        if result.plan.hasChanges { throw ExitCode(2) }
    }
}

/// Plans with the reconciler, turning every failure into a printed error and exit 1.
/// The plan, and the desired state it was made from (apply hands its fleet to the BMC steps).
/// - Parameter makingCallbackKey: make the install callback key first when there is none
///   (for a plan that will be applied).
func makePlan(_ config: ConfigOptions, makingCallbackKey: Bool = false) throws -> (result: PlanResult, desired: DesiredState) {
    let reconciler = try config.reconciler()
    return try reportingPlanErrors {
        if makingCallbackKey { try reconciler.makeCallbackKey() }
        // BIOS attributes are checked against the store's readings, as the daemon checks them.
        try reconciler.readKnownBIOS()
        let desired = try reconciler.loadDesired()
        return (try reconciler.plan(desired: desired), desired)
    }
}

/// Runs `plan`, printing a failure as `dploy plan` does (a template's problems, or the error)
/// and exiting 1.
func reportingPlanErrors<Planned>(_ plan: () throws -> Planned) throws -> Planned {
    do {
        return try plan()
    } catch let error as PlanError {
        printError(error.description)
        printError("no plan: fix the template\(error.problems.count == 1 ? "" : "s") above; nothing was changed")
    } catch let error as CustomStringConvertible & Error {
        printError("error: \(error)")
    }
    throw ExitCode.failure
}

/// A plan saved by `dploy plan --out`, applied only while its fingerprint still matches.
enum SavedPlan {
    static func write(_ plan: Plan, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(plan).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func read(from path: String) throws -> Plan {
        guard let data = FileManager.default.contents(atPath: path) else {
            printError("error: \(path): cannot read the saved plan")
            throw ExitCode.failure
        }
        do {
            return try JSONDecoder().decode(Plan.self, from: data)
        } catch let error as PlanFormatError {
            printError("error: \(path): \(error)")
            throw ExitCode.failure
        } catch {
            printError("error: \(path): not a plan saved by dploy plan --out (\(error))")
            throw ExitCode.failure
        }
    }
}

enum Terminal {
    /// Colour only on a terminal, and never when NO_COLOR is set or --no-color given.
    static func wantsColor(disabled: Bool) -> Bool {
        !disabled && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }
}
