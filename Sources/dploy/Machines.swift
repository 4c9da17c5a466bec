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
        let desired: DesiredStateSummary
        do {
            desired = DesiredStateSummary(try reconciler.loadDesired().fleet)
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
        var rows: [Row] = []
        let byMAC = Dictionary(observed.map { ($0.mac, $0) }, uniquingKeysWith: { $1 })
        for (name, mac, generation) in desired.machines {
            let seen = byMAC[mac]
            rows.append(Row(name: name, mac: mac.description, inGit: true, desiredGeneration: generation,
                            installedGeneration: seen?.installedGeneration,
                            state: seen.map { $0.state == .discovered ? MachineState.known.rawValue : $0.state.rawValue } ?? "never seen",
                            lastSeen: seen?.lastSeen, model: seen?.hardware?.model))
        }
        let desiredMACs = Set(desired.machines.map(\.mac))
        for machine in observed where !desiredMACs.contains(machine.mac) {
            rows.append(Row(name: nil, mac: machine.mac.description, inGit: false, desiredGeneration: nil,
                            installedGeneration: machine.installedGeneration, state: machine.state.rawValue,
                            lastSeen: machine.lastSeen, model: machine.hardware?.model))
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

/// Name, MAC and desired generation of every machine in git.
struct DesiredStateSummary {
    var machines: [(name: String, mac: MACAddress, generation: Int)]

    init(_ fleet: Fleet) {
        let resolver = DefaultsResolver(groups: fleet.groups)
        machines = fleet.machines.map { ($0.name, $0.mac.value, resolver.resolve($0).generation) }
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
