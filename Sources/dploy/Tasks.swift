import ArgumentParser
import DployController
import DployInventory
import DploySpec
import Foundation

struct Tasks: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List tasks and their runs per target: pending, running, succeeded, failed or skipped.",
        discussion: """
            A task runs once per target for each revision of its spec: editing it runs it again, \
            removing it from git undoes nothing. With TASK, each run's output and error too.
            """
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: GlobalOptions

    @Argument(help: ArgumentHelp("Show one task in full.", valueName: "task"))
    var task: String?

    func run() throws {
        let rows: [TaskOverview]
        do {
            let reconciler = try config.reconciler()
            let fleet = try reconciler.loadDesired(recordingStatus: false).fleet
            let runs = try reconciler.openStore(creating: false)?.taskRuns(task: task) ?? []
            rows = TaskOverview.rows(fleet: fleet, runs: runs).filter { task == nil || $0.task == task }
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        if let task, rows.isEmpty {
            printError("error: no task '\(task)' in git or in the store")
            throw ExitCode.failure
        }
        if options.json { return try printJSON(rows) }
        if rows.isEmpty { return print("No tasks in git, and none has run.") }
        let formatter = ISO8601DateFormatter()
        for row in rows {
            let where_ = row.inGit ? "@\(row.revision ?? "")" : "(removed from git)"
            print("\(row.task) \(where_)  \(row.summary ?? row.action?.rawValue ?? "")")
            if !row.runs.isEmpty { print("  \(row.counts)") }
            for run in row.runs + (task == nil ? [] : row.history) {
                var parts = [run.machine.padding(toLength: max(12, run.machine.count), withPad: " ", startingAt: 0),
                             run.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)]
                if run.revision != row.revision { parts.append("@\(run.revision)") }
                if let time = run.finishedAt ?? run.startedAt { parts.append(formatter.string(from: time)) }
                if let code = run.exitCode { parts.append("exit \(code)") }
                if let error = run.error { parts.append(error) }
                print(("  " + parts.joined(separator: "  ")).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
                if task != nil, let output = run.output, !output.isEmpty {
                    print(output.split(separator: "\n", omittingEmptySubsequences: false).map { "      | \($0)" }.joined(separator: "\n"))
                }
            }
            if task == nil, !row.history.isEmpty { print("  and \(row.history.count) earlier run(s): dploy tasks \(row.task)") }
        }
    }
}
