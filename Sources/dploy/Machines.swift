import ArgumentParser
import DployController
import DployInventory
import DployPlan
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
        var conditions: [MachineCondition]
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
        let bmcReadings: [MACAddress: BMCRecord]
        do {
            let store = try reconciler.openStore(creating: false)
            observed = try store?.machines() ?? []
            bmcReadings = try store?.bmcReadings() ?? [:]
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let rows = MachineOverview.rows(fleet: fleet, observed: observed, bmcReadings: bmcReadings).map {
            Row(name: $0.name, mac: $0.mac, inGit: $0.inGit, desiredGeneration: $0.desiredGeneration,
                installedGeneration: $0.installedGeneration, state: $0.state, lastSeen: $0.lastSeen, model: $0.hardware?.model,
                conditions: $0.conditions)
        }
        if options.json { return try printJSON(rows) }
        let formatter = ISO8601DateFormatter()
        let table = [["NAME", "MAC", "STATE", "READY", "GENERATION", "LAST SEEN", "MODEL"]] + rows.map { row in
            [row.name ?? "(not in git)", row.mac, row.state, Self.ready(row.conditions),
             "\(row.installedGeneration.map(String.init) ?? "-")/\(row.desiredGeneration.map(String.init) ?? "-")",
             row.lastSeen.map(formatter.string(from:)) ?? "-", row.model ?? "-"]
        }
        let widths = (0..<7).map { column in table.map { $0[column].count }.max() ?? 0 }
        for line in table {
            print(zip(line, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces))
        }
    }
}

extension Machines {
    /// `True`, or `False (neverInstalled)`: the Ready condition and, when it does not hold, why.
    static func ready(_ conditions: [MachineCondition]) -> String {
        guard let ready = conditions.first(where: { $0.type == .ready }) else { return "-" }
        return ready.status == .true ? ready.status.rawValue : "\(ready.status.rawValue) (\(ready.reason.rawValue))"
    }
}

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Look after the store.",
        subcommands: [Backup.self, Copy.self]
    )

    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the store to FILE, consistently, while the daemon keeps running.",
            discussion: "FILE is an SQLite store, whichever store dploy.yaml names: `dploy store copy --from sqlite:FILE` loads it into another."
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
                print("Backed up \(store.location) to \(file).")
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
