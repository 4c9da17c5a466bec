import ArgumentParser
import DployController
import DployInventory
import DployPlan
import Foundation
import Logging

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the fleet's boot and DHCP files match the desired state.",
        discussion: """
            Shows the plan and asks for confirmation unless --auto-approve. With PLANFILE (from \
            `dploy plan --out`), applies only if desired and observed state are still what the plan \
            was made from. A DHCP configuration the server's own checker refuses stops the apply \
            before any file changes.
            """
    )

    @OptionGroup var config: ConfigOptions

    @Flag(name: .long, help: "Apply without asking.")
    var autoApprove = false

    @Flag(name: .long, help: "Plain text, even on a terminal.")
    var noColor = false

    @Flag(name: .long, help: "Plan the whole fleet afresh: every output file read, every machine rendered, STATE/apply-cache neither read nor written.")
    var full = false

    @Argument(help: ArgumentHelp("A plan saved by `dploy plan --out`.", valueName: "planfile"))
    var planFile: String?

    func run() throws {
        // One writer per store, decided before anything is planned or asked: a running
        // daemon converges it, and this apply would race it.
        // A shared store's lead is a lease in the store itself, which is opened (and migrated) first.
        let lock: any Leadership, sharedStore: (any Store)?
        do {
            let reconciler = try config.reconciler()
            sharedStore = reconciler.config.postgres != nil ? try reconciler.openStore(creating: true) : nil
            lock = sharedStore.map(reconciler.leadership) ?? LeaderLock(path: reconciler.leaderLockPath)
            guard try lock.tryAcquire() else {
                if let file = lock as? LeaderLock { throw LeaderLockError.heldElsewhere(file.path, holder: file.holder) }
                throw NotLeader(holder: lock.holder, scope: lock.scope)
            }
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        defer { lock.release() }
        // Holding the lock, apply is the store's one writer: a store an older dploy wrote is
        // migrated here, as the daemon would at its start, so sites that never run the
        // daemon can upgrade. Only when it exists: a plan that changes nothing creates none.
        do {
            let reconciler = try config.reconciler()
            if FileManager.default.fileExists(atPath: reconciler.config.storePath) {
                _ = try reconciler.openStore(creating: true)
            }
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let saved = try planFile.map(SavedPlan.read)
        // Without a saved plan, apply keeps what it observed and its last plan that changed
        // nothing in STATE/apply-cache (ApplyCache), so a run after another does only the work
        // the change asks for. A saved plan needs every file digested for its fingerprint.
        let base = try config.reconciler()
        let cache = saved == nil && !full ? ApplyCache(path: base.applyCachePath) : nil
        if let problem = cache?.problem { Logger(label: "dploy.apply").warning("\(problem)") }
        let (result, desired): (PlanResult, DesiredState?)
        if let cache {
            let reconciler = Reconciler(config: base.config, configPath: base.configPath, observationCache: cache.observation,
                                        renderCache: cache.renders)
            (result, desired) = try reportingPlanErrors {
                try reconciler.makeCallbackKey()
                try reconciler.readKnownBIOS()
                return try reconciler.planOnce(cache: cache)
            }
        } else {
            (result, desired) = try makePlan(config, makingCallbackKey: true)
        }
        /// Keeps what this run observed and planned for the next; a cache that cannot be
        /// written costs the next run time, never correctness, so it only warns.
        func saveCache() {
            do { try cache?.save() } catch {
                Logger(label: "dploy.apply").warning("could not write the apply cache \(base.applyCachePath): \(error)")
            }
        }
        // The state must be the same, and so must every step: settings such as prune are
        // not files, and a saved plan runs without asking.
        if let saved, saved.fingerprint != result.plan.fingerprint || saved.actions != result.plan.actions
            || saved.tasks != result.plan.tasks {
            printError("error: the saved plan is stale: the desired or observed state changed since it was made; run dploy plan again")
            throw ExitCode.failure
        }
        print(result.plan.text(color: Terminal.wantsColor(disabled: noColor)), terminator: "")
        guard result.plan.hasChanges, let desired else {
            saveCache()
            return
        }
        if !autoApprove && saved == nil {
            guard isatty(STDIN_FILENO) == 1 else {
                printError("error: refusing to apply without confirmation: stdin is not a terminal; use --auto-approve")
                throw ExitCode.failure
            }
            print("\nApply these changes? Only 'yes' is accepted: ", terminator: "")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                print("Apply cancelled; nothing was changed.")
                throw ExitCode.failure
            }
        }
        var failedRuns = 0
        do {
            let reconciler = try config.reconciler()
            let logger = Logger(label: "dploy.apply")
            // BMC steps are jobs, as in the daemon: recorded in the store
            // first, run by the worker pool, which this command then waits for (and which
            // resumes jobs an interrupted apply or daemon left running). Progress is logged.
            let needsJobs = result.plan.actions.contains { $0.jobStep != nil }
            let store = try sharedStore ?? (needsJobs ? reconciler.openStore(creating: true) : nil)
            let runner = store.map { store in
                reconciler.bmcJobRunner(store: store, fleet: { desired.fleet }, logger: logger, recordEvent: { try? store.record($0) })
            }
            try runner?.start()
            defer { runner?.stop() }
            let report = try reconciler.apply(result, fleet: desired.fleet, logger: logger, jobs: store.map { ($0, runner) })
            saveCache()
            print("Apply complete: \(report.written.count) file\(report.written.count == 1 ? "" : "s") written, "
                  + "\(report.removed.count) removed\(report.reloaded ? ", DHCP server reloaded" : "").")
            if let store, let runner, !report.queuedJobs.isEmpty {
                report.queuedJobs.forEach { print("queued: \($0)") }
                _ = runner.waitUntilIdle(timeout: reconciler.config.bmcFirmwareTimeout * max(1, report.queuedJobs.count) + .seconds(60))
                let ids = Set(report.jobIDs)
                let ended = try store.bmcJobs(states: nil, machine: nil, limit: Int.max).filter { ids.contains($0.id) }.reversed()
                for job in ended { print("job \(job.id) \(job.machine): \(job.step): \(job.progressText)") }
                failedRuns += ended.count { $0.state == .failed || $0.state == .skipped }
            }
            if !report.deferred.isEmpty {
                print("waiting for a BMC job, planned again by the next apply: \(report.deferred.joined(separator: ", "))")
            }
            if !result.plan.tasks.isEmpty {
                let runs = try reconciler.runTasks(result.plan, fleet: desired.fleet, store: sharedStore)
                runs.forEach { print($0.line) }
                failedRuns += runs.count { $0.state == .failed }
            }
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        if failedRuns > 0 {
            printError("error: \(failedRuns) task run\(failedRuns == 1 ? "" : "s") or BMC job\(failedRuns == 1 ? "" : "s") failed; a task runs again only when it is edited, a firmware job after `dploy jobs retry ID`")
            throw ExitCode.failure
        }
    }
}
