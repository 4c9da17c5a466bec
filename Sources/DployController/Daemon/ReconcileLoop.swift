import DployApply
import DployGit
import DployInventory
import DployPlan
import DploySpec
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import Synchronization

/// The daemon's reconcile loop: fetch → load → observe → plan → apply, at start, on an
/// interval (with jitter, so a fleet of controllers does not fetch in step), and when
/// `trigger()` is called (the git webhook). One run at a time, by construction: only the
/// loop's own task runs them. Triggers during a run collapse into one more run.
///
/// Whether a run applies depends on the role: `mode: plan-only` and `suspend: true` plan
/// but change nothing, and so does a daemon that does not hold the store's leader lock. A
/// daemon that does not lead a shared (PostgreSQL) store is a replica: it writes its own
/// output folders, as a second boot server must, and leaves BMC steps and tasks to the leader.
public final class ReconcileLoop: Service, Sendable {
    public let reconciler: Reconciler
    let store: any Store
    let lock: any Leadership
    let metrics: ControllerMetrics
    let logger: Logger
    /// Where the desired state in force is published (first load included), so that boot
    /// decisions and pages follow git; nil for a loop that serves nothing.
    let live: LiveDesired?
    let jitter: Double
    let wake: WakeSignal
    /// The worker pool that runs the BMC jobs applies enqueue; started by the first run that
    /// holds the leader lock (it resumes jobs a previous daemon left running).
    public let jobs: BMCJobRunner
    /// The BMC readings runs plan from, renewed on a task of their own (`bmc.observe`).
    let bmcWatch: BMCWatch
    /// The fleet jobs find their BMCs in: the one last applied, set before the apply that
    /// may enqueue, so that a worker never looks a new job's machine up in an older fleet.
    private let jobFleet = JobFleet()
    private let state: Mutex<LoopState>

    private struct LoopState {
        var status: DaemonStatus
        var desired: DesiredState?
        /// The last plan that changed nothing, with what it was made from.
        var quiet: QuietPlan?
        /// The last run's condition counts, with what they were counted from.
        var counted: CountedConditions?
        /// Whether the log said why the output is not watched (once is enough).
        var toldWatchProblem = false
        /// The role of the last run that found one; nil before the first.
        var role: DaemonStatus.Role?
        /// Runs that asked the planner rather than reusing a quiet plan, for tests.
        var plansMade = 0
        /// The desired state the last load gave, and the role it was loaded for: what a run
        /// on news plans again. Not `desired` (what is in force): a plan-only daemon's pending
        /// plan, or a commit whose apply failed, is of the newer one. With the machines whose
        /// BMCs its fleet has read, worked out once per load (resolving a thousand machines'
        /// defaults at every run on news was a tenth of such a run).
        var loaded: (desired: DesiredState, role: DaemonStatus.Role, bmcTargets: [BMCTarget])?
    }

    /// The trigger of a run woken by the daemon's own news (`news()`): it plans the last
    /// load's desired state again, without fetching.
    public static let newsTrigger = "bmc"

    /// How long after a run ends a run on news may start; a fetch does not wait.
    ///
    /// News comes in bursts: a job's end wakes a run, and so does the reading of its BMC
    /// that follows. With 64 flashes at once, 15 to 30 jobs end a second, and runs went back
    /// to back: 163 in 30 s, a quarter of a core of 2 (bench/rollout.py, before it paced its
    /// boot traffic). Gathered, runs on news come at most once per this much and a run: 61
    /// to 64 in those 30 s, and the rollout finished no later. A machine waits for its next
    /// step at most this much longer, against minutes of flash.
    let newsSettle: Duration

    /// - Parameter bmcFirstRoundWait: how long the first run waits for the BMCs' first round
    ///   (`BMCWatch.firstRoundWait`).
    public init(reconciler: Reconciler, store: any Store, metrics: ControllerMetrics, logger: Logger,
                jitter: Double = 0.1, live: LiveDesired? = nil, bmcFirstRoundWait: Duration = .seconds(30),
                newsSettle: Duration = .milliseconds(250)) {
        self.reconciler = reconciler
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.jitter = jitter
        self.live = live
        self.newsSettle = newsSettle
        let lock = reconciler.leadership(for: store)
        self.lock = lock
        let wake = WakeSignal()
        self.wake = wake
        // Deposed while it waited (frozen, cut off): its next run is a replica's, at once.
        // Its next run fetches: another leader may have applied newer commits meanwhile.
        lock.whenLost { wake.signal() }
        let watch = BMCWatch(reconciler: reconciler, interval: reconciler.config.interval,
                             firstRoundWait: bmcFirstRoundWait) { observations, macs in
            metrics.bmcRequests.increment(by: Int64(observations.count))
            metrics.bmcErrors.increment(by: Int64(observations.count { $0.error != nil }))
            do {
                try store.recordBMCReadings(observations.compactMap { observation in
                    macs[observation.machine].map { BMCRecord(observation, mac: $0) }
                })
            } catch {
                logger.error("cannot store BMC readings: \(error)")
            }
        }
        bmcWatch = watch
        let jobFleet = self.jobFleet
        jobs = reconciler.bmcJobRunner(store: store, fleet: { jobFleet.fleet.withLock { $0 } }, logger: logger, admitting: true,
                                       recordEvent: { event in
                                           do { try store.record(event) } catch { logger.error("cannot record an event in the store: \(error)") }
                                       },
                                       finished: { job, state in
                                           metrics.recordBMCJobFinished(state)
                                           // Its BMC says what the job did once it is read again;
                                           // what waited for the job (a task, the machine's next
                                           // steps) is planned by a run now, not at the interval.
                                           // A cancelled job sent nothing: its BMC is as it was.
                                           if state != .cancelled { watch.actedOn([job.machine]) }
                                           wake.signal(fetching: false)
                                       },
                                       leading: { lock.isHeld })
        state = Mutex(LoopState(status: DaemonStatus(
            pid: getpid(), startedAt: reconciler.clock.now(), role: .apply, runs: 0,
            source: try? SourceStatus.read(from: reconciler.sourceStatusPath))))
    }

    /// The status as of the last run; cheap, and never waits for a run in progress. A lead
    /// lost since that run (a shared store's lease) shows at once, not at the next run.
    public var status: DaemonStatus {
        var status = state.withLock { $0.status }
        if status.role == .apply, lock is PostgresLeaderLease, !lock.isHeld {
            status.role = .replica
            status.roleReason = "lost the lead of \(lock.scope) since the last run"
        }
        return status
    }

    /// Whether the last run planned without applying and without a leader to read BMCs for
    /// it (plan-only, suspended, a standby of a local store).
    var plansWithoutLead: Bool { state.withLock { [.planOnly, .suspended, .standby].contains($0.role) } }

    /// How many runs asked the planner (the rest reused a quiet plan or failed before it).
    var plansMade: Int { state.withLock { $0.plansMade } }

    /// The desired state in force, once the first run has loaded one.
    public var desired: DesiredState? { state.withLock { $0.desired } }

    /// Asks for a run that fetches as soon as possible (now if idle, after the current run if
    /// busy): the webhook, a new commit.
    public func trigger() { wake.signal() }

    /// Asks for a run that plans the last load's desired state again, without fetching: a
    /// BMC job finished, a BMC reading changed. During a rollout that is about once a second,
    /// and a fetch and a load each time would be work for a commit that did not change.
    func news() { wake.signal(fetching: false) }

    public func run() async throws {
        // Runs and BMC reads take CPU in bursts of up to hundreds of milliseconds; each has a
        // thread of its own, so that Swift's pool stays free for Hummingbird's boot answers
        // (`ThreadExecutor`).
        let runs = ThreadExecutor(name: "dploy-reconcile"), reads = ThreadExecutor(name: "dploy-bmc-watch")
        defer {
            runs.finish()
            reads.finish()
        }
        // BMCs are read on a task of their own, by the leader: runs never wait on them. A
        // daemon that plans without applying (plan-only, suspended, a standby of a local
        // store) reads them too, as its runs plan from them; a replica leaves them to its leader.
        // Known to run before its task starts: the first run's snapshot waits for the watch's
        // first round rather than reading every BMC itself, a hung one included.
        if reconciler.config.bmcObserve { bmcWatch.willRun() }
        let watching = reconciler.config.bmcObserve ? Task(executorPreference: reads) { [bmcWatch, lock] in
            await bmcWatch.run(isLeading: { [weak self] in lock.isHeld || self?.plansWithoutLead == true },
                               onNews: { [weak self] in self?.news() })
        } : nil
        defer { watching?.cancel() }
        await withTaskExecutorPreference(runs) { await self.runUntilShutdown() }
    }

    /// Lets news gather until `deadline` (`newsSettle`); returns early, and true, when a
    /// fetch is asked for meanwhile. More news only wakes the wait: the coming run plans it.
    private func gatherNews(until deadline: ContinuousClock.Instant) async -> Bool {
        while ContinuousClock.now < deadline, !Task.isCancelled {
            _ = await wake.wait(timeout: deadline - .now)
            if wake.takeFetchRequest() { return true }
        }
        return false
    }

    private func runUntilShutdown() async {
        await cancelWhenGracefulShutdown {
            // The first run starts at once, unless the caller already ran one.
            var trigger: String? = self.status.runs == 0 ? "start" : nil
            var intervalDue = ContinuousClock.now
            var lastRunEnded = ContinuousClock.now
            while !Task.isCancelled {
                if let trigger {
                    await self.runOnce(trigger: trigger)
                    lastRunEnded = .now
                }
                // Runs on news do not fetch, so they do not put off the interval's fetch: a
                // rollout wakes the loop every second for hours, and a site without a webhook
                // still takes its commits at the interval.
                // A run on news may still shorten it: `nextDelay` is the lease once a run failed
                // or the lead was lost, and that bounds how soon a replica looks again.
                let next = ContinuousClock.now + self.nextDelay()
                intervalDue = trigger == Self.newsTrigger ? min(intervalDue, next) : next
                let wait = max(.zero, intervalDue - ContinuousClock.now)
                self.update { $0.nextRunAt = self.reconciler.clock.now().addingTimeInterval(wait.seconds) }
                let woken = await self.wake.wait(timeout: wait)
                var fetch = self.wake.takeFetchRequest()
                if woken, !fetch, ContinuousClock.now < intervalDue {
                    fetch = await self.gatherNews(until: min(lastRunEnded + self.newsSettle, intervalDue))
                }
                trigger = fetch ? "webhook" : woken && ContinuousClock.now < intervalDue ? Self.newsTrigger : "interval"
            }
        }
        // Workers stop between polls; jobs being followed stay running, resumed at the next start.
        let jobs = self.jobs
        await withCheckedContinuation { continuation in
            Thread { jobs.stop(); continuation.resume() }.start()
        }
        lock.release()
        logger.info("reconcile loop stopped")
    }

    func nextDelay() -> Duration {
        var interval = reconciler.config.interval.seconds
        // A controller of a shared store that does not lead (a replica, one whose run failed
        // on the database) looks for a lapsed lead at least once per lease, so a takeover is
        // bounded by the lease the config documents, not by the interval. A leader that loses
        // its lead while it waits is woken by the lease (`Leadership.whenLost`); a leader whose
        // run failed (the database just back, its pool still refusing) tries again as soon.
        let failed = state.withLock { $0.status.lastRun?.result == .failed }
        if !lock.isHeld || failed, let lease = reconciler.config.postgres?.lease.seconds { interval = min(interval, lease) }
        return .seconds(interval * (1 + Double.random(in: -jitter...jitter)))
    }

    /// One reconcile. Never throws: a failure is recorded (status, event, metrics, log) and
    /// leaves everything as the last good run left it.
    public func runOnce(trigger: String) async {
        let startedAt = reconciler.clock.now()
        var run = DaemonStatus.Run(trigger: trigger, startedAt: startedAt, finishedAt: startedAt, result: .failed,
                                   source: nil, message: "")
        var role = DaemonStatus.Role.apply, roleReason: String?
        var pending: Plan?, lastError: String?
        var rollouts: [String] = []
        var desired: DesiredState?
        /// Machines the plan worked out again (the others kept their outcomes); nil without a plan.
        var planned: Int?
        /// Whether the render cache holds what the last plan of `desired`'s key resolved (this
        /// run's plan, or the one its quiet plan reuses; empty after a reset, when the counts
        /// resolve for themselves).
        var cacheMatchesLoaded = false
        // Step times are durations, measured on the monotonic clock.
        var stepStart = ContinuousClock.now
        func step(_ name: String) {
            let now = ContinuousClock.now
            run.steps[name] = (now - stepStart).seconds
            stepStart = now
        }
        do {
            // The role first: it decides what this run may write, the source status included.
            do {
                (role, roleReason) = try currentRole()
            } catch {
                // Who leads is not known (the database is away): this run leads nothing.
                (role, roleReason) = (lock is PostgresLeaderLease ? .replica : .standby, "cannot tell who leads: \(error)")
                throw error
            }
            let (becameLeader, lostLead, startsChecking, lastLoaded) = state.withLock { state in
                defer { state.role = role }
                return (role == .apply && state.role != nil && state.role != .apply, role != .apply && state.role == .apply,
                        // Its first run, its first after a replica's, and its first as leader
                        // (a standby's readings are as old as its start).
                        role != .replica && (state.role == nil || state.role == .replica || (role == .apply && state.role != .apply)),
                        // What a news run plans from: the last load's, if it was for this role.
                        state.loaded.flatMap { $0.role == role ? ($0.desired, $0.bmcTargets) : nil })
            }
            if lostLead {
                logger.warning("no longer leads: \(roleReason ?? role.rawValue)")
                bmcWatch.forget()
            }
            if becameLeader {
                // What it saw while another daemon applied, and the plan that changed nothing
                // then, were never checked against what the leader wrote since.
                reconciler.observationCache?.lastVerified = nil
                state.withLock { $0.quiet = nil }
                // Jobs the last leader left running (perhaps this process, before it lost the lead).
                do { try jobs.adoptLeftJobs() } catch { logger.error("cannot read the BMC jobs left running: \(error)") }
            }
            let verifiedBefore = reconciler.observationCache?.lastVerified
            if role != .apply, reconciler.observationCache?.trust == .ownWrites {
                // Someone else writes the output: without inotify, only looking at every file shows what.
                reconciler.observationCache?.lastVerified = nil
            }
            if startsChecking {
                // No BMC read yet: this load's `bios.attributes` are checked against the BIOS
                // readings the store kept (this daemon's before a restart, or the last leader's:
                // the site's), so a bad commit is refused before the first BMC round.
                do { try reconciler.knownBIOS.read(from: store) } catch { logger.warning("BIOS attributes not checked: \(error)") }
            }
            // BMCs are the leader's: replicas of a shared store do not read them too.
            let readsBMCs = reconciler.config.bmcObserve && role != .replica
            // A replica keeps its own state folder: it records, and checks, the history itself.
            // A run on news (a job ended, a BMC changed) plans the last load's commit again.
            let loaded: DesiredState, bmcTargets: [BMCTarget]
            if trigger == Self.newsTrigger, let lastLoaded {
                (loaded, bmcTargets) = lastLoaded
            } else {
                do {
                    loaded = try reconciler.loadDesired(recordingStatus: role != .standby)
                } catch {
                    // News runs load again until a load succeeds: the failure stays in the status.
                    state.withLock { $0.loaded = nil }
                    throw error
                }
                bmcTargets = readsBMCs ? reconciler.bmcTargets(loaded.fleet) : []
                state.withLock { $0.loaded = (loaded, role, bmcTargets) }
                step("load")
            }
            desired = loaded
            run.source = loaded.source
            var bmc: ObservedBMCs?
            // The readings are the watch's latest; only a daemon's first run waits for them.
            if readsBMCs {
                bmc = await bmcWatch.snapshot(bmcTargets)
                step("bmc")
            }
            // The next load checks `bios.attributes` against these (a new commit naming an
            // attribute these BIOSes do not list is refused); this one was checked against the
            // run before's (or the store's), and the planner reports what changed since. A daemon
            // that reads no BMCs (`bmc.observe` off) keeps the store's. A replica checks against
            // none: its runs write files only, and the leader, which reads the BIOSes and writes
            // them, refuses for the site; a replica refusing on readings the leader no longer
            // holds would serve other boot files than the leader.
            if let bmc {
                reconciler.knownBIOS.replace(with: bmc.bios)
            } else if role == .replica {
                reconciler.knownBIOS.replace(with: [:])
            }
            // The leader makes the callback key before its first plan, as `dploy apply` does.
            if role == .apply { try reconciler.makeCallbackKey() }
            let observed = try reconciler.observe(store: store, bmc: bmc, fleet: loaded.fleet)
            step("observe")
            // A run that looked at every output file (the first, each `output.verifyInterval`,
            // a new leader) plans the whole fleet afresh too; the others plan what changed.
            if reconciler.observationCache?.lastVerified != verifiedBefore { reconciler.renderCache?.reset() }
            if let problem = reconciler.observationCache?.problem,
               state.withLock({ state in defer { state.toldWatchProblem = true }; return !state.toldWatchProblem }) {
                logger.warning("\(problem)")
            }
            // The planner is pure: from the same inputs as a plan that changed nothing, it
            // would make that plan again. A quiet fleet's run skips it.
            let inputs = try QuietPlan.Inputs(desired: loaded, observed: observed, settings: reconciler.settings,
                                              filesVersion: reconciler.observationCache?.version)
            let result: PlanResult
            if let quiet = state.withLock({ $0.quiet }), let plan = quiet.plan(for: inputs) {
                result = PlanResult(plan: plan, desiredFiles: FileContents())
            } else {
                result = try reconciler.plan(desired: loaded, observed: observed, fingerprint: false)
                state.withLock { $0.plansMade += 1 }
                planned = reconciler.renderCache?.machinesPlanned
            }
            rollouts = result.plan.notes.filter { $0.code == .rolloutHalted || $0.code == .rolloutWindowClosed }.map(\.message)
            let quiet = result.plan.hasChanges ? nil : QuietPlan(inputs: inputs, plan: result.plan)
            state.withLock { $0.quiet = quiet }
            step("plan")
            cacheMatchesLoaded = reconciler.renderCache != nil
            if !result.plan.hasChanges {
                run.result = .unchanged
                run.message = "nothing to change"
                // The fleet runs this commit, even when it changed no file.
                if role == .apply {
                    jobFleet.fleet.withLock { $0 = loaded.fleet }
                    try startJobs()
                    try reconciler.recordApplied(revision: result.plan.revision)
                    // Imaging runs past their deadline end here.
                    if lock.isHeld { await runTasks(result.plan, fleet: loaded.fleet) }
                }
                publish(loaded)
            } else if role == .apply {
                // The lead may have been lost since the run began (a pause, the database gone).
                guard lock.isHeld else { throw NotLeader(holder: lock.holder, scope: lock.scope) }
                jobFleet.fleet.withLock { $0 = loaded.fleet }
                try startJobs()
                // BMC steps are queued as jobs: the apply never waits on a BMC. The workers are
                // woken once boot decisions follow this commit (below): a reinstall's cycle must
                // not boot the machine into the decisions of the commit before.
                // Each BMC request asks again: the lead may end while the apply runs.
                let report = try reconciler.apply(result, fleet: loaded.fleet, logger: logger,
                                                  recordEvent: { [self] in record($0) }, jobs: (store, nil),
                                                  leading: { [lock] in lock.isHeld })
                // Lost meanwhile: what it applied is not recorded as its own; the new leader's
                // run records its own, and this run ends as a failure.
                guard lock.isHeld else { throw NotLeader(holder: lock.holder, scope: lock.scope) }
                run.result = .converged
                run.message = "\(result.plan.summary) \(report.written.count) written, \(report.removed.count) removed"
                    + (report.reloaded ? ", DHCP reloaded" : "")
                    + (report.queuedJobs.isEmpty ? "" : ", \(report.queuedJobs.count) BMC job\(report.queuedJobs.count == 1 ? "" : "s") queued")
                recordApplied(result.plan, fleet: loaded.fleet)
                step("apply")
                // Boot decisions follow the applied state before jobs or tasks boot anything.
                publish(loaded)
                if !report.queuedJobs.isEmpty { jobs.wake() }
                let runs = lock.isHeld ? await runTasks(result.plan, fleet: loaded.fleet) : []
                // A task may power a machine off or on, or boot it into imaging.
                bmcWatch.actedOn(runs.map(\.key.machine))
                if !runs.isEmpty {
                    run.message += ", " + TaskRunner.summary(runs)
                    step("tasks")
                }
            } else if role == .replica {
                let files = PlanResult(plan: result.plan.filesOnly, desiredFiles: result.desiredFiles)
                run.result = .converged
                run.message = "\(result.plan.summary) Files only: \(roleReason ?? "")"
                if files.plan.hasChanges {
                    let report = try reconciler.apply(files, logger: logger)
                    run.message += "; \(report.written.count) written, \(report.removed.count) removed"
                        + (report.reloaded ? ", DHCP reloaded" : "")
                    step("apply")
                }
                publish(loaded)
            } else {
                // Not applied, so not in force: boots keep following what was last applied,
                // or boot their disks when nothing was.
                run.result = .planned
                run.message = "\(result.plan.summary) Not applied: \(roleReason ?? role.rawValue)"
                pending = result.plan
            }
            step("publish")
        } catch {
            // Nothing of this run is in force: boots keep the last applied desired state.
            lastError = String(describing: error)
            run.message = lastError!.split(separator: "\n").first.map(String.init) ?? "failed"
            if role == .apply, lock is PostgresLeaderLease, !lock.isHeld {
                // A leader deposed during its run (frozen past its lease, cut off) writes nothing
                // more to the shared store, not even its failure: the log and status say it.
                logger.warning("lost the lead during the run; nothing more is written: \(lastError!)")
            } else {
                record(MachineEvent(mac: nil, at: reconciler.clock.now(), kind: "reconcile-failed", message: lastError!))
            }
        }
        if let counting = desired ?? self.desired {
            do {
                let observed = try store.machines()
                metrics.recordMachines(MachineOverview.stateCounts(fleet: counting.fleet, observed: observed))
                let renderCache = cacheMatchesLoaded ? reconciler.renderCache : nil
                let counted = CountedConditions.counts(state.withLock { $0.counted }, desired: counting, observed: observed,
                                                       bmcReadings: try store.bmcReadings(),
                                                       resolved: { renderCache?.effective(of: $0) })
                state.withLock { $0.counted = counted }
                metrics.recordConditions(counted.counts)
                metrics.recordBMCJobs(try store.bmcJobs(states: [.queued, .running], machine: nil, limit: Int.max))
            } catch {
                logger.error("cannot count machines for the metrics: \(error)")
            }
        }
        step("count")
        // Events and BMC readings are pruned by age and count, by the leader only.
        if role == .apply {
            var retention = StoreRetention()
            retention.eventMaxAge = reconciler.config.retention.eventMaxAge
            retention.maxEvents = reconciler.config.retention.maxEvents
            retention.bmcReadingMaxAge = reconciler.config.retention.bmcReadingMaxAge
            do { try store.prune(retention, now: reconciler.clock.now()) } catch {
                logger.error("cannot prune the store: \(error)")
            }
        }
        run.finishedAt = reconciler.clock.now()
        if lock.isHeld {
            // Every controller of the store shows each site's last run: its leader writes it.
            let siteRun = SiteRun(site: reconciler.config.site, holder: leaderName, trigger: trigger, result: run.result.rawValue,
                                  source: run.source, message: run.message, startedAt: run.startedAt, finishedAt: run.finishedAt)
            do { try store.recordSiteRun(siteRun) } catch {
                logger.error("cannot record this run for the site's status: \(error)")
            }
        }
        metrics.recordRun(run, pendingActions: pending?.actions.count ?? 0)
        let source: SourceStatus?
        if case .git = reconciler.config.source { source = try? SourceStatus.read(from: reconciler.sourceStatusPath) } else { source = nil }
        update { status in
            status.runs += 1
            status.lastRun = run
            status.role = role
            status.roleReason = roleReason
            status.pendingPlan = pending
            status.rollouts = rollouts
            status.lastError = lastError
            status.source = source
        }
        Allocator.returnFreedMemory()
        var metadata: Logger.Metadata = [
            "trigger": "\(trigger)", "result": "\(run.result.rawValue)",
            "seconds": "\(String(format: "%.3f", run.seconds))",
            "steps": "\(run.steps.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.3f", $0.value))" }.joined(separator: " "))",
        ]
        if let revision = desired?.revision { metadata["commit"] = "\(revision.prefix(12))" }
        if let planned, let machines = desired?.fleet.machines.count { metadata["planned"] = "\(planned)/\(machines)" }
        if run.result == .failed {
            logger.error("reconcile failed: \(lastError ?? "")", metadata: metadata)
        } else {
            logger.info("reconcile \(run.result.rawValue): \(run.message)", metadata: metadata)
        }
    }

    /// Runs the plan's task runs on a thread of their own (SSH sessions and BMC calls
    /// block, and may take the task's whole timeout) and logs each. Never throws: a run that
    /// cannot even start is logged, and the next run plans it again.
    @discardableResult
    private func runTasks(_ plan: Plan, fleet: Fleet) async -> [TaskRunReport] {
        let reconciler = self.reconciler, store = self.store
        // On shutdown no further target starts; those running finish (their timeouts bound
        // them). A lead lost meanwhile stops new targets too, and keeps results unwritten.
        let stop = StopSignal { [lock] in lock.isHeld }
        let outcome: Result<[TaskRunReport], any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: Result { try reconciler.runTasks(plan, fleet: fleet, store: store, stop: stop) }) }
                    .start()
            }
        } onCancel: {
            stop.set()
        }
        switch outcome {
        case .success(let runs):
            metrics.recordTaskRuns(runs)
            for report in runs {
                let metadata: Logger.Metadata = ["machine": "\(report.key.machine)", "task": "\(report.key.task)"]
                if report.state == .failed { logger.error("\(report.line)", metadata: metadata) } else { logger.info("\(report.line)", metadata: metadata) }
            }
            return runs
        case .failure(let error):
            logger.error("cannot run tasks: \(error)")
            return []
        }
    }

    /// Starts the job workers the first time this daemon may write (it holds the lock).
    /// Starting reads the jobs left running, and a thread per worker: cheap, and once.
    private func startJobs() throws {
        try jobs.start()
    }

    /// Hands a desired state now in force (applied, or already converged) to the boot
    /// decisions and pages. After the apply, so a commit's files land first; a boot in
    /// between sees the previous commit whole.
    private func publish(_ loaded: DesiredState) {
        let previous = state.withLock { state in
            defer { state.desired = loaded }
            return state.desired
        }
        // The same commit is the same fleet: comparing 10,000 machines is for folder sources only.
        if previous.map({ DesiredKey($0) != DesiredKey(loaded) }) ?? true {
            live?.update(loaded)
        }
    }

    /// Whether this run may apply, and why not when it may not.
    private func currentRole() throws -> (DaemonStatus.Role, String?) {
        let config = reconciler.config
        if config.suspend { return (.suspended, "suspend: true in \(reconciler.configPath)") }
        if config.mode == .planOnly { return (.planOnly, "mode: plan-only in \(reconciler.configPath)") }
        if try lock.tryAcquire() { return (.apply, nil) }
        let reason = "another dploy (\(lock.holder)) leads \(lock.scope)"
        return (lock is PostgresLeaderLease ? .replica : .standby, reason)
    }

    /// One event per machine the run changed, with the plan's reasons: the history an
    /// operator reads on the machine's page.
    private func recordApplied(_ plan: Plan, fleet: Fleet) {
        let macs = Dictionary(fleet.machines.map { ($0.name, $0.mac.value) }, uniquingKeysWith: { first, _ in first })
        let now = reconciler.clock.now()
        var events: [MachineEvent] = []
        for machine in plan.machines {
            let mac = macs[machine.machine] ?? MACAddress(machine.machine)
            let message = "\(machine.change.rawValue): " + machine.reasons.map(\.message).joined(separator: "; ")
                + (plan.revision.map { " (commit \($0.prefix(12)))" } ?? "")
            events.append(MachineEvent(mac: mac, at: now, kind: "applied", message: message))
            logger.info("applied \(machine.change.rawValue)", metadata: [
                "machine": "\(machine.machine)", "commit": "\(plan.revision.map { String($0.prefix(12)) } ?? "-")",
            ])
        }
        // One write for the run's events: 10,000 commits would take most of a first apply.
        do { try store.record(events) } catch {
            logger.error("cannot record events in the store: \(error)")
        }
    }

    private func record(_ event: MachineEvent) {
        do { try store.record(event) } catch {
            logger.error("cannot record an event in the store: \(error)")
        }
    }

    private func update(_ change: (inout DaemonStatus) -> Void) {
        let status = state.withLock { state in
            change(&state.status)
            return state.status
        }
        // The status file is the leader's: a standby daemon serves its view at /v1/status
        // but does not overwrite what `dploy status` shows about the one converging.
        guard status.role != .standby else { return }
        do { try status.write(to: reconciler.daemonStatusPath) } catch {
            logger.error("cannot write \(reconciler.daemonStatusPath): \(error)")
        }
    }
}

/// The fleet BMC jobs look machines up in, shared with the runner's workers.
final class JobFleet: Sendable {
    let fleet = Mutex<Fleet?>(nil)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
