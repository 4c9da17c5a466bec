import ArgumentParser
import DployController
import DployInventory
import DploySpec

struct Discover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with machines that booted and reported themselves but are not in git.",
        subcommands: [Export.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a Machine document for a discovered machine, to review and commit."
        )

        @OptionGroup var config: ConfigOptions

        @Argument(help: "The machine's MAC address.")
        var mac: String

        @Option(name: .long, help: "The name to give it (default: from its model and MAC).")
        var name: String?

        func run() throws {
            guard let address = MACAddress(mac) else {
                printError("error: '\(mac)' is not a MAC address")
                throw ExitCode.failure
            }
            if let name, !Names.isDNSLabel(name) {
                printError("error: '\(name)' is not a valid name (a DNS label: a-z, 0-9 and '-')")
                throw ExitCode.failure
            }
            do {
                guard let machine = try config.reconciler().openStore(creating: false)?.machine(address) else {
                    printError("error: dploy has not seen \(address)")
                    throw ExitCode.failure
                }
                print(MachineExport.document(for: machine, name: name), terminator: "")
            } catch let error as ExitCode {
                throw error
            } catch let error as CustomStringConvertible & Error {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
