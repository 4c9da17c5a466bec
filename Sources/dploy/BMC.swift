import ArgumentParser
import DployBMC
import DployController
import DploySpec
import Foundation

extension PowerAction: ExpressibleByArgument {}

struct BMC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bmc",
        abstract: "Read machines' BMCs (iLO, Redfish) or power them on, off or cycle them.",
        subcommands: [Status.self, Power.self]
    )

    /// The machines of the desired state, with group defaults applied, as BMC targets.
    static func targets(_ reconciler: Reconciler, names: [String]) throws -> [(machine: String, bmc: BMCSettings)] {
        let fleet: Fleet
        do {
            fleet = try reconciler.loadDesired().fleet
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let resolver = DefaultsResolver(groups: fleet.groups)
        let unknown = names.filter { fleet.machine(named: $0) == nil }
        guard unknown.isEmpty else {
            printError("error: no machine named \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in the desired state")
            throw ExitCode.failure
        }
        let machines = names.isEmpty ? fleet.machines.sorted { $0.name < $1.name } : names.compactMap(fleet.machine(named:))
        return machines.compactMap { machine in
            let bmc = resolver.resolve(machine).settings.bmc ?? BMCSettings()
            // Listing everything: machines without a BMC are not news. Named: say so.
            if names.isEmpty && bmc.address == nil { return nil }
            return (machine.name, bmc)
        }
    }

    /// Secrets and relative paths as the controller config says; warnings to stderr.
    static func observer(_ reconciler: Reconciler, concurrency: Int = 16) -> BMCObserver {
        BMCObserver(secrets: reconciler.secretStore, baseDirectory: reconciler.bmcBaseDirectory,
                    concurrency: concurrency, warnings: BMCWarnings { printError("warning: \($0)") })
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each machine's power, health, model, serial, BIOS and BMC firmware, read from its BMC now.",
            discussion: "A BMC that cannot be read is reported on its own line; the others are still read. Exits 1 if any failed."
        )

        @OptionGroup var config: ConfigOptions
        @OptionGroup var options: GlobalOptions

        @Option(name: .long, help: "How many BMCs to read at once (default: 'bmc.concurrency' in the config, else 16).")
        var concurrency: Int?

        @Argument(help: ArgumentHelp("Machines to read (default: every machine with a BMC).", valueName: "machine"))
        var machines: [String] = []

        struct Row: Encodable {
            var machine: String
            var address: String?
            var readAt: Date
            var reading: BMCReading?
            var error: ErrorRow?
        }

        struct ErrorRow: Encodable {
            var kind: BMCError.Kind
            var message: String
        }

        func run() async throws {
            let reconciler = try config.reconciler()
            let targets = try BMC.targets(reconciler, names: machines)
            let observations = await BMC.observer(reconciler, concurrency: concurrency ?? reconciler.config.bmcConcurrency)
                .observe(targets)
            let rows = observations.map {
                Row(machine: $0.machine, address: $0.address, readAt: $0.readAt, reading: $0.reading,
                    error: $0.error.map { ErrorRow(kind: $0.kind, message: $0.description) })
            }
            if options.json {
                try printJSON(rows)
            } else {
                let table = [["MACHINE", "POWER", "HEALTH", "MODEL", "SERIAL", "BIOS", "BMC FIRMWARE"]] + rows.map { row in
                    guard let reading = row.reading else { return [row.machine, "?", "-", "-", "-", "-", "-"] }
                    return [row.machine, reading.power.description, reading.health ?? "-", reading.model ?? "-",
                            (reading.serialNumber?.trimmingCharacters(in: .whitespaces)).flatMap { $0.isEmpty ? nil : $0 } ?? "-",
                            reading.biosVersion ?? "-", reading.managerFirmware ?? "-"]
                }
                let widths = (0..<7).map { column in table.map { $0[column].count }.max() ?? 0 }
                for line in table {
                    print(zip(line, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }
                        .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
                }
            }
            for row in rows {
                if let error = row.error { printError("error: \(row.machine): \(error.message)") }
            }
            if rows.contains(where: { $0.error != nil }) { throw ExitCode.failure }
        }
    }

    struct Power: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Power a machine on, off (forced) or cycle it through its BMC, now.",
            discussion: "For an operator in a hurry; the declarative way is 'power:' in the machine's spec. A cycle of a machine that is off turns it on."
        )

        @OptionGroup var config: ConfigOptions

        @Argument(help: ArgumentHelp("on, off or cycle.", valueName: "action"))
        var action: PowerAction

        @Argument(help: ArgumentHelp("The machine, by name.", valueName: "machine"))
        var machine: String

        func run() async throws {
            let reconciler = try config.reconciler()
            guard let target = try BMC.targets(reconciler, names: [machine]).first else { throw ExitCode.failure }
            let observer = BMC.observer(reconciler)
            let client: RedfishClient
            do {
                let endpoint = try BMCEndpoint.from(target.bmc, secrets: observer.secrets, baseDirectory: observer.baseDirectory)
                client = RedfishClient(endpoint: endpoint, warnings: observer.warnings)
            } catch {
                printError("error: \(machine): \(error)")
                throw ExitCode.failure
            }
            let result: PowerResult
            do {
                result = try await client.setPower(action)
            } catch {
                await client.close()
                printError("error: \(machine): \(error)")
                throw ExitCode.failure
            }
            await client.close()
            if let type = result.resetType {
                print("\(machine): \(action.rawValue): sent \(type) (was \(result.before))")
            } else {
                print("\(machine): already \(result.before); nothing sent")
            }
        }
    }
}
