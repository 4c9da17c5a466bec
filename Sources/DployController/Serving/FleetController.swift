import DployInventory
import DployPlan
import DployRender
import DploySpec
import Foundation

/// The controller as the HTTP server sees it (`ControllerInterface`): the store, the desired
/// state in force with its boot decisions (`LiveDesired`, which the loop publishes to), and in
/// the daemon the reconcile loop with its metrics. Without a loop it serves fixed desired
/// state: tests, and tools that only serve.
public final class FleetController: ControllerInterface {
    public let live: LiveDesired
    let loop: ReconcileLoop?
    /// The time every decision and record here is made at: boot windows, whether an imaging
    /// run is still running, the times callbacks are recorded with. The daemon passes its
    /// reconciler's, so the task runner and the server agree on what time it is.
    let clock: WallClock

    /// - Parameter loop: the daemon's loop, publishing to the same `live`.
    public init(live: LiveDesired, loop: ReconcileLoop? = nil, clock: WallClock = .system) {
        self.live = live
        self.loop = loop
        self.clock = clock
    }

    /// The store boot decisions record into: one for the whole server.
    private var store: any Store { live.store }

    // MARK: Reads

    public var serverURL: String { live.server.url }

    public var desired: DesiredState? { live.snapshot?.desired }

    public var status: DaemonStatus? { loop?.status }

    public func metricsExposition() -> String? { loop?.metrics.exposition() }

    public func bootAnswer(mac: String?, loader: BootLoader, address: String?, recording: Bool = true) -> String {
        guard let decisions = live.snapshot?.decisions else {
            return BootAnswer.localDisk(message: "no desired state is loaded yet, booting the local disk")
                .rendered(for: loader, server: live.server)
        }
        do {
            return try decisions.answer(mac: mac, loader: loader, address: address, now: clock.now(), recording: recording)
        } catch {
            // Still an answer: the machine boots its disk and asks again at its next boot.
            return BootAnswer.localDisk(message: "the store is busy or unavailable, booting the local disk")
                .rendered(for: loader, server: live.server)
        }
    }

    private var fleet: Fleet { desired?.fleet ?? Fleet() }

    public func machines() throws -> [MachineOverview] {
        MachineOverview.rows(fleet: fleet, observed: try store.machines(), latestEvents: try store.latestEvents(),
                             bmcReadings: try store.bmcReadings())
    }

    public func machine(_ id: String) throws -> MachineOverview? {
        let rows = MachineOverview.rows(fleet: fleet, observed: try store.machines(), bmcReadings: try store.bmcReadings())
        return rows.first { $0.name == id || $0.mac == MACAddress(id)?.description }
    }

    public func machineDetail(_ id: String) throws -> MachineDetail? {
        let fleet = fleet
        let inGit = fleet.machine(named: id) ?? MACAddress(id).flatMap { mac in fleet.machines.first { $0.mac.value == mac } }
        guard let mac = inGit?.mac.value ?? MACAddress(id) else { return nil }
        let observed = try store.machine(mac)
        guard inGit != nil || observed != nil else { return nil }
        var one = Fleet()
        one.groups = fleet.groups
        one.firmwareBaselines = fleet.firmwareBaselines
        one.machines = inGit.map { [$0] } ?? []
        let reading = try store.bmcReadings()[mac]
        return MachineDetail(
            name: inGit?.name ?? mac.description, mac: mac,
            effective: inGit.map { DefaultsResolver(groups: fleet.groups).resolve($0) }, observed: observed,
            overview: MachineOverview.rows(fleet: one, observed: observed.map { [$0] } ?? [],
                                           bmcReadings: reading.map { [mac: $0] } ?? [:]).first,
            bmcReading: reading, installAttempts: try store.installAttempts(mac),
            events: try store.events(for: mac, limit: 100), taskRuns: try store.taskRuns(mac: mac),
            bmcJobs: try store.bmcJobs(states: nil, machine: inGit?.name ?? mac.description, limit: 50))
    }

    public func bmcJobs(machine: String?, active: Bool, limit: Int) throws -> [BMCJobView] {
        try store.bmcJobs(states: active ? [.queued, .running] : nil, machine: machine, limit: limit).map(BMCJobView.init)
    }

    public func sites() throws -> [SiteView] { try store.sites().map(SiteView.init) }

    public func events(of mac: MACAddress, limit: Int) throws -> [MachineEvent] {
        try store.events(for: mac, limit: limit)
    }

    public func tasks(named name: String?) throws -> [TaskOverview] {
        TaskOverview.rows(fleet: fleet, runs: try store.taskRuns(task: name))
    }

    public func imagingJob(mac: MACAddress, token: String) throws -> ImagingJob {
        try imagingRun(mac: mac, token: token).job
    }

    /// The running imaging run a MAC and token speak for, and its job from git.
    private func imagingRun(mac: MACAddress, token: String) throws -> (run: TaskRun, job: ImagingJob) {
        guard let run = try store.runningTaskRun(mac: mac, actions: TaskActionKind.imaging, at: clock.now()) else {
            throw ControllerRefusal(.notFound, "no imaging run is going for \(mac) (none started, or it is over or past its deadline)")
        }
        guard let key = live.server.callbackKey, key.verify(token, imaging: ImagingJob.runName(run.key), mac: mac) else {
            throw ControllerRefusal(.forbidden, "the token does not match this machine's imaging run")
        }
        // Right after a restart no desired state is loaded yet: that says nothing about the
        // task, so the environment is asked to try again rather than its run failed.
        guard let fleet = desired?.fleet else {
            throw ControllerRefusal(.unavailable, "dploy is starting and has no desired state loaded yet; try again")
        }
        guard let job = ImagingJob(run, fleet: fleet) else {
            _ = try store.finishTaskRun(run.key, .failed("the task was edited or removed from git while the run waited"), at: clock.now())
            throw ControllerRefusal(.gone, "task '\(run.key.task)' changed in git since this run started; the run is failed")
        }
        return (run, job)
    }

    // MARK: State changes

    public func webhookDelivered(_ result: ControllerMetrics.WebhookResult) throws {
        guard let loop else { throw ControllerRefusal(.notFound, "this server runs no reconcile loop") }
        loop.metrics.recordWebhook(result)
        if result == .accepted { loop.trigger() }
    }

    public func recordHardware(_ hardware: Hardware, of mac: MACAddress, address: String?) throws {
        // Reports are unauthenticated: what bounds them is who may speak for a MAC, and when.
        let now = clock.now(), window = BootDecisions.attemptWindow
        let observed = try store.machine(mac)
        let decisions = live.snapshot?.decisions
        let fromMachine = BootDecisions.comesFrom(decisions?.reservedAddress(of: mac), address)
        if observed?.state == .rediscovering {
            guard fromMachine else {
                throw ControllerRefusal(.forbidden, "\(mac) is being rediscovered: its report must come from its reserved address")
            }
        } else {
            if let reported = observed?.hardwareReportedAt, now.timeIntervalSince(reported) < window {
                throw ControllerRefusal(.conflict, "\(mac) reported its hardware less than \(Int(window / 60)) minutes ago: one report per boot")
            }
            // Machines in git count for nothing here (a machine in git that has only booted is
            // `discovered` too). Concurrent reports can pass the limit by their number, no more.
            if observed == nil, decisions?.desiredGeneration(of: mac) == nil,
               try store.macs(in: .discovered).count(where: { decisions?.desiredGeneration(of: $0) == nil }) >= live.maxDiscovered {
                throw ControllerRefusal(.unavailable, "dploy holds \(live.maxDiscovered) discovered machines that are not in git "
                                        + "(store.maxDiscovered): commit them, or raise the limit, before it takes a new MAC")
            }
            if decisions?.desiredGeneration(of: mac) != nil {
                guard fromMachine, let seen = observed?.lastSeen, now.timeIntervalSince(seen) < window else {
                    throw ControllerRefusal(.forbidden, "\(mac) is in git and is not being rediscovered, nor has it booted in the last "
                                            + "\(Int(window / 60)) minutes from its reserved address: its hardware report is not taken")
                }
            }
        }
        try store.recordHardware(mac, hardware, at: now)
    }

    public func recordInstalled(mac: MACAddress, generation: Int, token: String) throws {
        guard let key = live.server.callbackKey, key.verify(token, mac: mac, generation: generation) else {
            throw ControllerRefusal(.forbidden, "the token does not match this machine and generation")
        }
        // Only the generation git asks for now can be installed; an old installer that
        // calls back late does not mark a newer generation done.
        guard live.snapshot?.decisions.desiredGeneration(of: mac) == generation else {
            throw ControllerRefusal(.conflict, "generation \(generation) is not the generation git asks for \(mac)")
        }
        // Once is enough: a replayed callback changes nothing.
        if let installed = try store.machine(mac)?.installedGeneration, installed >= generation {
            throw ControllerRefusal(.conflict, "generation \(generation) is already installed on \(mac)")
        }
        // The token proves the installer was rendered for this machine and generation. A
        // boot dploy did not count (it came through a proxy, or from another address than
        // the machine's reserved one) still ends in a valid callback: the store records the
        // attempt with it rather than refuse it, or the machine would reinstall at every boot.
        let now = clock.now()
        let open = try store.installAttempts(mac).last { $0.generation == generation && $0.finishedAt == nil && $0.failedAt == nil }
        // The check above and this write are apart: another controller of a shared store
        // may have taken the same callback in between. The store decides which one counts.
        guard try store.installFinished(mac, generation: generation, at: now) else {
            throw ControllerRefusal(.conflict, "generation \(generation) is already installed on \(mac)")
        }
        try store.record(MachineEvent(mac: mac, at: now, kind: "installed",
                                      message: "the installer called back: generation \(generation) is installed"
                                        + (open == nil ? " (no counted boot: the boot request came from another address than the machine's)" : "")))
    }

    public func recordImagingProgress(mac: MACAddress, token: String, text: String) throws {
        let (run, _) = try imagingRun(mac: mac, token: token)
        try store.updateTaskRunOutput(run.key, text)
    }

    @discardableResult
    public func finishImaging(mac: MACAddress, token: String, report: ImagingReport) throws -> TaskRunOutcome {
        let (run, job) = try imagingRun(mac: mac, token: token)
        let outcome: TaskRunOutcome
        switch report {
        case .done(let body): outcome = job.outcome(reported: body)
        case .failed(let reason):
            let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            outcome = .failed("the imaging environment reported: \(reason.isEmpty ? "no reason" : reason)")
        }
        _ = try store.finishTaskRun(run.key, outcome, at: clock.now())
        return outcome
    }
}
