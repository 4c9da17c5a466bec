import DploySpec
import Foundation

/// Observed state, kept between runs. SQLite (`SQLiteStore`) is the embedded default; a
/// PostgreSQL store for several controllers will implement the same protocol.
public protocol Store: Sendable {
    /// Where the store is, for messages: the SQLite file's path, the PostgreSQL URL without a password.
    var location: String { get }

    func machines() throws -> [ObservedMachine]
    func machine(_ mac: MACAddress) throws -> ObservedMachine?
    /// The MACs of the machines the store holds in `state`.
    func macs(in state: MachineState) throws -> [MACAddress]

    /// A machine spoke to dploy (booted, reported, called back).
    func recordSeen(_ mac: MACAddress, address: String?, at: Date) throws
    func recordHardware(_ mac: MACAddress, _ hardware: Hardware, at: Date) throws

    /// The machine booted the installer for `generation`.
    func installStarted(_ mac: MACAddress, generation: Int, at: Date) throws
    /// The installer called back: `generation` is installed; the next boot is from disk.
    /// When no attempt of it is open (its boot was not counted), one is recorded, started
    /// and finished now. Returns false, recording nothing, when it or a newer generation
    /// already is: a callback counts once, also when it reaches two controllers at once.
    @discardableResult
    func installFinished(_ mac: MACAddress, generation: Int, at: Date) throws -> Bool
    func installFailed(_ mac: MACAddress, generation: Int, reason: String, at: Date) throws
    func installAttempts(_ mac: MACAddress) throws -> [InstallAttempt]
    /// What a boot of `mac` is decided from, in one read: its state, installed generation and
    /// install attempts, and its running run of `actions` at `now` (as `runningTaskRun`).
    func bootRecord(_ mac: MACAddress, runOf actions: Set<TaskActionKind>, at now: Date) throws -> BootRecord
    /// The newest installed generation of every machine that has one.
    func installedGenerations() throws -> [MACAddress: Int]
    /// Every machine's most recent install attempt: running, finished or failed.
    func latestAttempts() throws -> [MACAddress: InstallAttempt]

    /// Records events in one write: many at once cost one commit.
    func record(_ events: [MachineEvent]) throws
    /// Newest first; all machines when `mac` is nil.
    func events(for mac: MACAddress?, limit: Int) throws -> [MachineEvent]
    /// Each machine's newest event, for lists of many machines.
    func latestEvents() throws -> [MACAddress: MachineEvent]

    /// Each machine's newest BMC reading replaces its previous one, its BIOS attributes
    /// included: a reading without them (a failed read, a BIOS not read) removes them.
    func recordBMCReadings(_ readings: [BMCRecord]) throws
    /// The readings, without their BIOS attributes (`biosAttributes()`).
    func bmcReadings() throws -> [MACAddress: BMCRecord]
    /// The BIOS attribute names and types each machine's newest reading listed. Machines whose
    /// BIOS lists the same share one copy in memory: a fleet is a few BIOS models.
    func biosAttributes() throws -> [MACAddress: BIOSAttributeTypes]

    /// Records a task run as started (`running`) or `skipped`, with an event for its machine.
    /// Returns false, recording nothing, when the run already has a row: it ran, runs, or
    /// was skipped, and a task never runs twice.
    func startTaskRun(_ run: TaskRun) throws -> Bool
    /// Ends a running run. Returns false when it was not running (already over).
    func finishTaskRun(_ key: TaskRunKey, _ outcome: TaskRunOutcome, at: Date) throws -> Bool
    /// Replaces a running run's output: the imaging environment's progress.
    func updateTaskRunOutput(_ key: TaskRunKey, _ output: String) throws
    /// Every recorded run's state, for planning which are still pending.
    func taskRunStates() throws -> [TaskRunKey: TaskRunState]
    /// Recorded runs, of one task or all, by task then start.
    func taskRuns(task: String?) throws -> [TaskRun]
    /// The machine's running run of one of these actions, if any (what its next boot is for).
    /// A run past its deadline at `now` is not running any more, whether or not the loop
    /// has marked it failed yet: it neither boots the machine nor takes callbacks.
    func runningTaskRun(mac: MACAddress, actions: Set<TaskActionKind>, at now: Date) throws -> TaskRun?
    /// Every running run of these actions not past its deadline at `now`.
    func runningTaskRuns(actions: Set<TaskActionKind>, at now: Date) throws -> [TaskRun]
    /// Runs on one machine, newest first.
    func taskRuns(mac: MACAddress) throws -> [TaskRun]
    /// Fails every running run whose deadline has passed, and returns them.
    func failOverdueTaskRuns(at: Date) throws -> [TaskRun]
    /// Fails running runs of these actions: they ran in a process that is gone (dploy was
    /// stopped or died mid-run), and a task never runs twice, so they are not run again.
    /// Only runs on `machines` when given: a site's leader fails its own machines' runs, not
    /// those another site's leader has under way.
    func failInterruptedTaskRuns(actions: Set<TaskActionKind>, machines: Set<String>?, at: Date) throws -> [TaskRun]

    /// Records a BMC job as `queued` (its `id`, `state` and dates other than `createdAt` are
    /// the store's) and returns it with its id. Returns nil, recording nothing, when the
    /// machine already has a queued or running job for the same step. Atomic: of two callers
    /// enqueuing the same machine and step at once, one gets the job and the other nil (a
    /// unique index over (machine, step) of active rows does it in both stores).
    func enqueueBMCJob(_ job: BMCJob) throws -> BMCJob?
    /// Claims the oldest queued job of `site` whose machine has no running job: it becomes
    /// `running`, `startedAt` = `at`, and is returned. nil when there is none. Atomic: two
    /// workers never claim the same job, and a machine never has two running jobs (its steps
    /// stay in order).
    func claimBMCJob(site: String, at: Date) throws -> BMCJob?
    /// Writes what a worker learned of a running job (non-nil fields replace the row's).
    /// Returns false, writing nothing, when the job is not running, or when `submittedAt` is
    /// given and the row already has one: that write is the worker's right to send the
    /// request, which only one worker ever gets (and on a shared store only the leader).
    func updateBMCJob(_ id: Int64, _ update: BMCJobUpdate) throws -> Bool
    /// Ends a running job as `succeeded`, `failed` or `cancelled` (with `error`). A failure
    /// also skips the same machine's queued jobs, in the same transaction, with an error
    /// naming this job: a machine's later steps rely on its earlier ones. Returns false,
    /// changing nothing, when the job was not running.
    func finishBMCJob(_ id: Int64, _ state: BMCJobState, error: String?, at: Date) throws -> Bool
    /// Jobs newest first: those in `states` (all when nil), of `kinds` (all when nil), of one
    /// machine (all when nil), at most `limit`.
    func bmcJobs(states: Set<BMCJobState>?, kinds: Set<BMCJobKind>?, machine: String?, limit: Int) throws -> [BMCJob]
    /// Each machine's newest job for each of its steps (the highest id per machine and step):
    /// what the planner needs to know whether a step is owed, under way, or done or failed.
    func latestBMCJobs() throws -> [BMCJob]

    /// Records the last run of the leader of `run.site`, replacing the one before: what
    /// `dploy status` and the page of any controller show of every site. On a shared store
    /// only the site's leader may write it (fenced).
    func recordSiteRun(_ run: SiteRun) throws
    /// Every site's last run and, on a shared store, its leader; sorted by site.
    func sites() throws -> [SiteStatus]

    /// Records that the rollout of baseline `name` was resumed at `at` (replacing an earlier
    /// resume): failed jobs that finished before it no longer count towards its halt.
    func resumeRollout(_ name: String, at: Date) throws
    /// Every rollout's last resume, by baseline name.
    func rolloutResumes() throws -> [String: Date]

    /// Forgets a machine's hardware report and install history: its next network boot is a
    /// discovery (`MachineState.rediscovering`). Events and BMC readings stay.
    func forgetMachine(_ mac: MACAddress, reason: String, at: Date) throws

    /// Deletes events and BMC readings past `retention` at `now`; returns how many rows went.
    @discardableResult
    func prune(_ retention: StoreRetention, now: Date) throws -> Int

    /// A consistent copy of the whole store, taken while it is in use.
    func backup(to path: String) throws

    /// Every row, in key order, read in one transaction (`dploy store copy`).
    func snapshot() throws -> StoreSnapshot
    /// The secret `name` the store's controllers share (the install callbacks' key):
    /// `proposal` when none is stored yet, else the one stored first, also when two
    /// controllers propose at once.
    func sharedSecret(_ name: String, proposing proposal: [UInt8]) throws -> [UInt8]
    /// Writes every row of `snapshot`, keeping their ids, into this store, which must hold no
    /// machine, event, BMC reading, task run, BMC job or shared secret (`StoreError.notEmpty`);
    /// all or nothing.
    func load(_ snapshot: StoreSnapshot) throws
}

/// How long events and BMC readings are kept, and how many events at most.
public struct StoreRetention: Hashable, Sendable {
    /// Events older than this are deleted (default 90 days).
    public var eventMaxAge: Duration = .seconds(90 * 24 * 3600)
    /// Only the newest this many events are kept (default 100,000).
    public var maxEvents: Int = 100_000
    /// BMC readings not renewed for this long are deleted (default 30 days): the
    /// machine is gone or its BMC is no longer read.
    public var bmcReadingMaxAge: Duration = .seconds(30 * 24 * 3600)
    public init() {}

    func eventCutoff(_ now: Date) -> Date { now.addingTimeInterval(-Double(eventMaxAge.components.seconds)) }
    func bmcReadingCutoff(_ now: Date) -> Date { now.addingTimeInterval(-Double(bmcReadingMaxAge.components.seconds)) }
}

extension Store {
    public func record(_ event: MachineEvent) throws { try record([event]) }

    /// Jobs newest first, of every kind.
    public func bmcJobs(states: Set<BMCJobState>?, machine: String?, limit: Int) throws -> [BMCJob] {
        try bmcJobs(states: states, kinds: nil, machine: machine, limit: limit)
    }

    /// Ends `run` with `outcome`; the run as it is now, or nil when it had already ended.
    func finish(_ run: TaskRun, _ outcome: TaskRunOutcome, at now: Date) throws -> TaskRun? {
        guard try finishTaskRun(run.key, outcome, at: now) else { return nil }
        var finished = run
        finished.state = outcome.state
        finished.finishedAt = now
        finished.error = outcome.error
        return finished
    }
}
