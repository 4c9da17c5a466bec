import ArgumentParser
import DployController
import DployInventory
import Foundation

struct Rollout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Act on a FirmwareBaseline's rollout.",
        subcommands: [Resume.self]
    )

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a halted rollout: the failures so far no longer count towards maxFailures.",
            discussion: """
                A rollout halts when more flashes fail than its maxFailures. Resuming forgets those \
                failures for the count (the failed machines are still not flashed again on their own: \
                `dploy jobs retry ID` does that); the daemon's next run starts what the rollout allows.
                """
        )

        @OptionGroup var config: ConfigOptions

        @Argument(help: "The FirmwareBaseline's name.")
        var name: String

        func run() throws {
            do {
                let reconciler = try config.reconciler()
                let fleet = try reconciler.loadDesired(recordingStatus: false).fleet
                guard let baseline = fleet.firmwareBaseline(named: name) else {
                    printError("error: no FirmwareBaseline '\(name)' in the desired state")
                    throw ExitCode.failure
                }
                guard baseline.rollout != nil else {
                    printError("error: FirmwareBaseline '\(name)' has no 'spec.rollout': there is nothing to resume")
                    throw ExitCode.failure
                }
                // Read-only first: a store of another version is refused, never migrated from here.
                guard try reconciler.openStore(creating: false) != nil else {
                    printError("error: there is no store yet at \(reconciler.config.storePath): nothing has been flashed")
                    throw ExitCode.failure
                }
                // The store dploy.yaml names, SQLite or the shared PostgreSQL one.
                try reconciler.openStore(creating: true)?.resumeRollout(name, at: Date())
                print("Rollout \(name) resumed: failures until now no longer count; the daemon's next run goes on with it.")
            } catch let error as CustomStringConvertible & Error {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
