import ArgumentParser
import DployController
import DployInventory
import DployPlan
import DploySpec
import Foundation

struct Rollout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Act on a rollout: a FirmwareBaseline's flashes, or a Group's BIOS and RAID settings (group/NAME).",
        subcommands: [Resume.self]
    )

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a halted rollout: the failures so far no longer count towards maxFailures.",
            discussion: """
                A rollout halts when more of its jobs fail than its maxFailures. Resuming forgets those \
                failures for the count (the failed machines are still not started again on their own: \
                `dploy jobs retry ID` does that); the daemon's next run starts what the rollout allows. \
                A FirmwareBaseline's rollout is named after it (gen10); a Group's, which rolls out the \
                BIOS and RAID settings of its defaults, is group/NAME.
                """
        )

        @OptionGroup var config: ConfigOptions

        @Argument(help: "The rollout: a FirmwareBaseline's name, or group/NAME for a Group's.")
        var name: String

        func run() throws {
            do {
                let reconciler = try config.reconciler()
                let fleet = try reconciler.loadDesired(recordingStatus: false).fleet
                guard DployPlan.Rollout.named(name, in: fleet) != nil else {
                    printError("error: \(Self.noRollout(name, in: fleet))")
                    throw ExitCode.failure
                }
                // Read-only first: a store of another version is refused, never migrated from here.
                guard try reconciler.openStore(creating: false) != nil else {
                    printError("error: there is no store yet at \(reconciler.config.storePath): no rollout has run yet")
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

        /// Why `name` names no rollout, and what would.
        static func noRollout(_ name: String, in fleet: Fleet) -> String {
            let prefix = DployPlan.Rollout.groupPrefix
            if name.hasPrefix(prefix) {
                let group = String(name.dropFirst(prefix.count))
                return fleet.group(named: group) == nil
                    ? "no Group '\(group)' in the desired state (a FirmwareBaseline's rollout is named without '\(prefix)')"
                    : "Group '\(group)' has no 'spec.rollout': there is nothing to resume"
            }
            if fleet.firmwareBaseline(named: name) != nil {
                return "FirmwareBaseline '\(name)' has no 'spec.rollout': there is nothing to resume"
            }
            if fleet.group(named: name)?.rollout != nil {
                return "no FirmwareBaseline '\(name)' in the desired state; the rollout of Group '\(name)' is named \(prefix)\(name)"
            }
            return "no FirmwareBaseline '\(name)' in the desired state (a Group's rollout is named \(prefix)NAME)"
        }
    }
}
