import ArgumentParser
import DployController
import DployGit
import DployInventory
import DploySpec
import Foundation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the daemon is doing: role, last run, pending plan, source commits.",
        discussion: """
            Reads the status `dploy serve` writes after every run beside its store, so it works \
            without credentials and says so when no daemon is running.
            """
    )

    @OptionGroup var config: ConfigOptions
    @OptionGroup var global: GlobalOptions

    struct Report: Encodable {
        var daemonRunning: Bool
        var status: DaemonStatus?
        var source: SourceStatus?
        /// BMC jobs queued or running, from the store (none when it cannot be read).
        var jobs: [BMCJobView] = []
        /// The site this controller converges (`site` in dploy.yaml).
        var site: String
        /// Every site of the store, with its leader and last run (none when it cannot be read).
        var sites: [SiteView] = []
        /// Why the store could not be read (jobs and sites are then unknown, not none).
        var storeError: String?
    }

    func run() throws {
        let reconciler = try config.reconciler()
        let status: DaemonStatus?
        let source: SourceStatus?
        for path in [reconciler.daemonStatusPath, reconciler.sourceStatusPath]
        where FileManager.default.fileExists(atPath: path) && !FileManager.default.isReadableFile(atPath: path) {
            printError("error: cannot read \(path): permission denied; run as the user dploy serve runs as, or a member of its group")
            throw ExitCode.failure
        }
        do {
            status = try DaemonStatus.read(from: reconciler.daemonStatusPath)
            source = try SourceStatus.read(from: reconciler.sourceStatusPath)
        } catch {
            printError("error: cannot read the daemon's status in \(reconciler.daemonStatusPath) (written by another "
                       + "version of dploy?): \(error)")
            throw ExitCode.failure
        }
        // Is the process that wrote the status still there? EPERM means it is, as another user.
        let running = status.map { kill($0.pid, 0) == 0 || errno == EPERM } ?? false
        // Jobs and sites move between runs: read from the store, not from the status file.
        // A store that cannot be read is said, not shown as one without jobs or sites.
        var jobs: [BMCJob] = [], sites: [SiteStatus] = [], storeError: String?
        do {
            if let store = try reconciler.openStore(creating: false) {
                jobs = try store.bmcJobs(states: [.queued, .running], machine: nil, limit: 1000)
                sites = try store.sites()
            }
        } catch {
            storeError = "\(error)"
        }
        let report = Report(daemonRunning: running, status: status, source: status?.source ?? source,
                            jobs: jobs.map(BMCJobView.init), site: reconciler.config.site, sites: sites.map(SiteView.init),
                            storeError: storeError)
        if global.json { return try printJSON(report) }
        print(Self.text(report), terminator: "")
    }

    static func text(_ report: Report) -> String {
        var lines: [String] = []
        guard let status = report.status else {
            return "No daemon status yet: dploy serve writes it after its first run.\n"
        }
        lines.append(report.daemonRunning ? "daemon:       running (pid \(status.pid)), role \(status.role.rawValue)"
                                          : "daemon:       not running (last seen as pid \(status.pid))")
        if let reason = status.roleReason { lines.append("              \(reason)") }
        if let run = status.lastRun {
            lines.append("last run:     \(Self.time(run.finishedAt)) (\(run.trigger), \(String(format: "%.2f", run.seconds)) s) "
                         + "\(run.result.rawValue): \(run.message)")
        }
        if report.daemonRunning, let next = status.nextRunAt { lines.append("next run:     \(Self.time(next))") }
        if let source = report.source {
            lines.append("fetched:      \(source.lastFetched.map(Self.commit) ?? "never")")
            lines.append("good:         \(source.lastGood.map(Self.commit) ?? "none yet")")
            lines.append("applied:      \(source.lastApplied.map(Self.commit) ?? "none yet")")
            if let error = source.lastError {
                lines.append("source error: " + (error.commit.map { "\($0.short): " } ?? "") + error.message)
            }
        }
        if let error = status.lastError { lines.append("last error:   \(error)") }
        if let error = report.storeError {
            lines.append("store:        cannot read it (\(error.split(separator: "\n").first ?? "")): BMC jobs and sites unknown")
        }
        for rollout in status.rollouts ?? [] { lines.append("rollout:      \(rollout)") }
        if !report.jobs.isEmpty {
            let running = report.jobs.count { $0.state == "running" }
            lines.append("BMC jobs:     \(running) running, \(report.jobs.count - running) queued")
            lines += report.jobs.reversed().map { "  \($0.line)" }
        }
        if SiteView.worthShowing(report.sites) {
            lines.append("site:         \(report.site)")
            for site in report.sites {
                lines.append("  \(site.site): \(site.leaderText); last run \(site.lastRunText)")
            }
        } else if report.site != Site.defaultName {
            lines.append("site:         \(report.site)")
        }
        if let plan = status.pendingPlan {
            lines.append("pending:      \(plan.summary)")
            for machine in plan.machines {
                lines.append("  \(machine.change.rawValue) \(machine.machine): \(machine.reasons.map(\.message).joined(separator: "; "))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func commit(_ commit: CommitInfo) -> String { "\(commit.id.short) \"\(commit.summary)\"" }
    static func time(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
