import ArgumentParser
import DployController
import DployInventory
import DploySpec
import Foundation

struct Machines: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List machines, desired and observed side by side: state, installed generation, last seen."
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: GlobalOptions

    struct Row: Encodable {
        var name: String?
        var mac: String
        var inGit: Bool
        var desiredGeneration: Int?
        var installedGeneration: Int?
        var state: String
        var lastSeen: Date?
        var model: String?
    }

    func run() throws {
        let reconciler = try config.reconciler()
        let fleet: Fleet
        do {
            fleet = try reconciler.loadDesired().fleet
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let observed: [ObservedMachine]
        do {
            observed = try reconciler.openStore(creating: false)?.machines() ?? []
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let rows = MachineOverview.rows(fleet: fleet, observed: observed).map {
            Row(name: $0.name, mac: $0.mac, inGit: $0.inGit, desiredGeneration: $0.desiredGeneration,
                installedGeneration: $0.installedGeneration, state: $0.state, lastSeen: $0.lastSeen, model: $0.hardware?.model)
        }
        if options.json { return try printJSON(rows) }
        let formatter = ISO8601DateFormatter()
        let table = [["NAME", "MAC", "STATE", "GENERATION", "LAST SEEN", "MODEL"]] + rows.map { row in
            [row.name ?? "(not in git)", row.mac, row.state,
             "\(row.installedGeneration.map(String.init) ?? "-")/\(row.desiredGeneration.map(String.init) ?? "-")",
             row.lastSeen.map(formatter.string(from:)) ?? "-", row.model ?? "-"]
        }
        let widths = (0..<6).map { column in table.map { $0[column].count }.max() ?? 0 }
        for line in table {
            print(zip(line, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces))
        }
    }
}

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Look after the embedded store.",
        subcommands: [Backup.self]
    )

    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the store to FILE, consistently, while the daemon keeps running."
        )

        @OptionGroup var config: ConfigOptions

        @Argument(help: ArgumentHelp("Where to write the copy; must not exist yet.", valueName: "file"))
        var file: String

        func run() throws {
            do {
                guard let store = try config.reconciler().openStore(creating: false) else {
                    printError("error: there is no store yet; nothing to back up")
                    throw ExitCode.failure
                }
                try store.backup(to: file)
                print("Backed up \(store.path) to \(file).")
            } catch let error as StoreError {
                printError("error: \(error)")
                throw ExitCode.failure
            } catch let error as ExitCode {
                throw error
            } catch let error as CustomStringConvertible & Error {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
