import ArgumentParser
import DployController
import DployInventory
import Foundation

struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List BMC jobs (flashes, BIOS writes, RAID changes, boot-once and power steps): queued, running, and how the last ones ended.",
        discussion: """
            A firmware, BIOS or RAID step of a plan becomes a job in the store before it starts; the \
            daemon's (or dploy apply's) workers run it, and a restart resumes it without asking \
            the BMC twice. A failed firmware job is not flashed again on its own: `dploy jobs \
            retry ID` queues it again, with the steps its failure skipped.
            """,
        subcommands: [List.self, Retry.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List BMC jobs, newest first.")

        @OptionGroup var config: ConfigOptions
        @OptionGroup var options: GlobalOptions

        @Option(help: "Only this machine's jobs.")
        var machine: String?

        @Flag(help: "Finished jobs too, not only queued and running ones.")
        var all = false

        @Option(help: "At most this many.")
        var limit = 200

        func run() throws {
            let jobs: [BMCJobView]
            do {
                let store = try config.reconciler().openStore(creating: false)
                jobs = try store?.bmcJobs(states: all ? nil : [.queued, .running], machine: machine, limit: max(1, limit))
                    .map(BMCJobView.init) ?? []
            } catch let error as CustomStringConvertible & Error {
                printError("error: \(error)")
                throw ExitCode.failure
            }
            if options.json { return try printJSON(jobs) }
            if jobs.isEmpty { return print(all ? "No BMC jobs." : "No BMC job is queued or running (--all shows finished ones).") }
            jobs.forEach { print($0.line) }
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a failed or skipped BMC job again, with the jobs its failure skipped.")

        @OptionGroup var config: ConfigOptions

        @Argument(help: "The job's id (dploy jobs --all).")
        var id: Int64

        func run() throws {
            do {
                let reconciler = try config.reconciler()
                // Read-only first: a store of another version is refused, never migrated from here.
                guard try reconciler.openStore(creating: false) != nil else {
                    printError("error: there is no store yet at \(reconciler.config.storePath), so no job to retry")
                    throw ExitCode.failure
                }
                // The store dploy.yaml names, SQLite or the shared PostgreSQL one.
                guard let store = try reconciler.openStore(creating: true) else { throw ExitCode.failure }
                let queued = try store.retryBMCJob(id, at: Date())
                if queued.isEmpty { print("Nothing queued: the same steps are already queued or running.") }
                for job in queued { print("queued: job \(job.id) \(job.machine) \(job.step)") }
            } catch let error as CustomStringConvertible & Error {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
