import DployBMC
import DployConfig
import DployInventory
import DployPlan
import DploySpec
import Foundation
import Logging
import Synchronization

/// The worker pool that runs BMC jobs: `workers` threads of its own (libcurl blocks, and a
/// flash is followed for up to `bmc.firmwareTimeout`), never Swift's cooperative pool nor
/// the reconcile's task. Each worker claims the oldest queued job whose machine has none
/// running (`Store.claimBMCJob`), runs it to its end, and claims the next; idle workers
/// wake on `wake()` or look again every `idlePoll`.
///
/// A job's row says how far it got, so a new runner (after a restart) resumes the jobs left
/// `running`: it follows an update whose tracking is recorded, and never posts again a
/// request recorded as sent (`BMCJob.submittedAt`). One runner per store: the daemon starts
/// it while it holds the leader lock, `dploy apply` while it holds the same lock.
public final class BMCJobRunner: Sendable {
    public struct Settings: Sendable {
        /// Threads, so at most this many BMCs are driven at once (`bmc: {jobWorkers: N}`).
        public var workers: Int
        /// How often a running update is polled.
        public var pollInterval: Duration = .seconds(5)
        /// The longest one firmware update may take, counted from when it was posted (so a
        /// restart does not extend it).
        public var firmwareTimeout: Duration = ControllerConfig.defaultFirmwareTimeout
        /// How long an idle worker sleeps before looking for jobs queued by another process
        /// (`dploy jobs retry`); this daemon's own jobs wake it at once.
        public var idlePoll: Duration = .seconds(10)
        public var redfish = RedfishOptions()
        /// The site whose jobs this runner claims: another site's controller has their machines.
        public var site = Site.defaultName

        public init(workers: Int) { self.workers = max(1, workers) }
    }

    let store: any Store
    let settings: Settings
    let access: @Sendable () -> BMCJobAccess?
    let logger: Logger
    let clock: WallClock
    let recordEvent: @Sendable (MachineEvent) -> Void
    /// Called as each job ends, succeeded or failed (metrics).
    let finished: @Sendable (BMCJob, BMCJobState) -> Void
    private let state = Mutex(RunnerState())
    private let signal = NSCondition()
    /// Image URL → the SHA-256 it served, read once however many machines flash it.
    let imageDigests = Mutex<[String: String]>([:])

    private struct RunnerState {
        var started = false
        /// The worker threads were started (once, at the first job).
        var spawned = false
        var stopping = false
        var resumable: [BMCJob] = []
        /// The jobs this process's workers are running now.
        var following: Set<Int64> = []
        var busy = 0
        var alive = 0
        /// Bumped by `wake()`, so a worker that saw no job knows whether to look again at once.
        var wakes = 0
    }

    /// - Parameter access: the fleet and secrets a job's BMC is found by, read when a job
    ///   starts (the daemon's desired state in force); nil while there is none yet.
    public init(store: any Store, settings: Settings, access: @escaping @Sendable () -> BMCJobAccess?, logger: Logger,
                clock: WallClock = .system, recordEvent: @escaping @Sendable (MachineEvent) -> Void = { _ in },
                finished: @escaping @Sendable (BMCJob, BMCJobState) -> Void = { _, _ in }) {
        self.store = store
        self.settings = settings
        self.access = access
        self.logger = logger
        self.clock = clock
        self.recordEvent = recordEvent
        self.finished = finished
    }

    /// Lets the runner work: the first call takes the jobs a previous runner left `running`
    /// (resumed first). The worker threads start with the first job there is to run, here
    /// or at `wake()`, so a daemon that never queues one never starts them. Called again
    /// (each reconcile of the leader), it looks for jobs queued meanwhile by another
    /// process (`dploy jobs retry`) while the threads are not started yet.
    public func start() throws {
        let first = state.withLock { state -> Bool? in
            if state.stopping || state.spawned { return nil }
            return !state.started
        }
        guard let first else { return }
        if first {
            // Started only once the jobs left running are known: a read that fails is tried
            // again at the next call, so none is left running unresumed.
            // This site's only: another site's controller runs (and resumes) its own.
            let resumable = try store.bmcJobs(states: [.running], machine: nil, limit: Int.max)
                .filter { $0.site == settings.site }.sorted { $0.id < $1.id }
            state.withLock { $0.started = true }
            if !resumable.isEmpty {
                logger.info("resuming \(resumable.count) BMC job\(resumable.count == 1 ? "" : "s") left running: \(resumable.map { "\($0.id)" }.joined(separator: ", "))")
                state.withLock { $0.resumable = resumable }
                spawnWorkers()
                return
            }
        }
        if try !store.bmcJobs(states: [.queued], machine: nil, limit: 1).isEmpty { spawnWorkers() }
    }

    /// A job was queued: the workers start if they have not, and an idle one looks now
    /// rather than at its next poll.
    /// Takes over this site's running jobs that no worker of this process follows: those a
    /// leader left when it lost its lead (this process, before it led again, or another).
    /// `start` does it once; a daemon that leads again calls this.
    public func adoptLeftJobs() throws {
        let running = try store.bmcJobs(states: [.running], machine: nil, limit: Int.max).filter { $0.site == settings.site }
        let adopted = state.withLock { state -> [BMCJob] in
            let known = state.following.union(state.resumable.map(\.id))
            let left = running.filter { !known.contains($0.id) }.sorted { $0.id < $1.id }
            state.resumable += left
            return left
        }
        guard !adopted.isEmpty else { return }
        logger.info("resuming \(adopted.count) BMC job\(adopted.count == 1 ? "" : "s") left running: \(adopted.map { "\($0.id)" }.joined(separator: ", "))")
        wake()
    }

    public func wake() {
        if state.withLock({ $0.started && !$0.spawned }) { spawnWorkers() }
        signal.lock()
        state.withLock { $0.wakes += 1 }
        signal.broadcast()
        signal.unlock()
    }

    private func spawnWorkers() {
        let spawn = state.withLock { state -> Bool in
            guard state.started, !state.spawned, !state.stopping else { return false }
            state.spawned = true
            state.alive = settings.workers
            return true
        }
        guard spawn else { return }
        for index in 0..<settings.workers {
            Thread { [self] in
                Thread.nameCurrent("dploy-job-\(index)")
                // Polls and store writes can wait; boot answers cannot.
                ThreadPriority.runCurrentThreadInBackground()
                work()
            }.start()
        }
    }

    /// Stops the workers and waits for them. A job being followed stays `running` in the
    /// store, to be resumed by the next runner; no request is cut in half (a worker stops
    /// between polls, after at most one request's timeout).
    public func stop() {
        signal.lock()
        state.withLock { $0.stopping = true }
        signal.broadcast()
        while state.withLock({ $0.alive }) > 0 { _ = signal.wait(until: Date().addingTimeInterval(0.1)) }
        signal.unlock()
    }

    /// Whether the runner is stopping: jobs end their follow loop and stay `running`.
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Blocks until no job is queued or running (`dploy apply`, tests), or `timeout` passes;
    /// returns whether the store has none left.
    public func waitUntilIdle(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let busy = state.withLock { $0.busy + $0.resumable.count }
            if busy == 0, (try? store.bmcJobs(states: [.queued, .running], machine: nil, limit: 1).isEmpty) == true { return true }
            if pause(.milliseconds(50)) == false { return false }
        }
        return false
    }

    /// Sleeps `duration`, or less when the runner stops; false when it is stopping.
    func pause(_ duration: Duration) -> Bool {
        signal.lock()
        defer { signal.unlock() }
        if isStopping { return false }
        _ = signal.wait(until: Date().addingTimeInterval(duration.seconds))
        return !isStopping
    }

    private func work() {
        defer {
            signal.lock()
            state.withLock { $0.alive -= 1 }
            signal.broadcast()
            signal.unlock()
        }
        while !isStopping {
            let wakes = state.withLock { $0.wakes }
            let job: BMCJob?
            do {
                job = try nextJob()
            } catch {
                logger.error("cannot claim a BMC job: \(error)")
                job = nil
            }
            guard let job else {
                signal.lock()
                if !isStopping && state.withLock({ $0.wakes }) == wakes {
                    _ = signal.wait(until: Date().addingTimeInterval(settings.idlePoll.seconds))
                }
                signal.unlock()
                continue
            }
            state.withLock { _ = $0.following.insert(job.id) }
            run(job)
            state.withLock { state in
                state.busy -= 1
                state.following.remove(job.id)
            }
        }
    }

    /// A job to resume first, else a queued one the store hands this worker; counted busy.
    private func nextJob() throws -> BMCJob? {
        if let resumed = state.withLock({ state -> BMCJob? in
            guard !state.resumable.isEmpty else { return nil }
            state.busy += 1
            return state.resumable.removeFirst()
        }) { return resumed }
        // A deposed leader's workers claim nothing (the claim would be refused, once a poll).
        if let leading = settings.redfish.mayChange, !leading() { return nil }
        state.withLock { $0.busy += 1 }
        let claimed: BMCJob?
        do { claimed = try store.claimBMCJob(site: settings.site, at: clock.now()) } catch {
            state.withLock { $0.busy -= 1 }
            throw error
        }
        if claimed == nil { state.withLock { $0.busy -= 1 } }
        return claimed
    }
}

/// What a job's BMC is found by: the fleet in force (for the machine's effective `bmc`) and
/// the secrets folder. Read at each job's start, so a job follows the specs as they are
/// then, and passwords are never kept in the store.
public struct BMCJobAccess: Sendable {
    public var fleet: Fleet
    public var secrets: SecretStore?
    /// Where relative BMC paths (`caFile`) start.
    public var baseDirectory: String
    public var warnings: BMCWarnings?
    /// Why a job may not start now (`JobAdmission`), asked before anything is sent; nil
    /// when nothing is checked again (one-shot `dploy apply`, which waits for its jobs).
    public var refusal: (@Sendable (BMCJob) -> String?)?

    public init(fleet: Fleet, secrets: SecretStore?, baseDirectory: String, warnings: BMCWarnings? = nil,
                refusal: (@Sendable (BMCJob) -> String?)? = nil) {
        self.fleet = fleet
        self.secrets = secrets
        self.baseDirectory = baseDirectory
        self.warnings = warnings
        self.refusal = refusal
    }

    func endpoint(machine name: String) throws -> BMCEndpoint {
        try FleetBMC.endpoint(machine: name, fleet: fleet, resolver: DefaultsResolver(groups: fleet.groups), secrets: secrets,
                              baseDirectory: baseDirectory)
    }
}
