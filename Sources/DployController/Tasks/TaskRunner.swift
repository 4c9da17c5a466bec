import DployBMC
import DployConfig
import DployInventory
import DployPlan
import DploySpec
import Foundation
import Synchronization

/// Tells a task runner to start no more targets (the daemon is shutting down), and whether
/// it may still write what only a leader may (a shared store's lead can be lost mid-run).
public final class StopSignal: Sendable {
    private let flag = Mutex(false)
    private let leading: @Sendable () -> Bool
    public init(leading: @escaping @Sendable () -> Bool = { true }) { self.leading = leading }
    public var isSet: Bool { flag.withLock { $0 } || !leading() }
    /// Whether this process still leads: a run's result is written only then. One that lost
    /// the lead leaves the run as it is, and the new leader fails it as interrupted.
    public var isLeading: Bool { leading() }
    public func set() { flag.withLock { $0 = true } }
}

/// How one target's run ended this time, for logs and `dploy apply`'s report.
public struct TaskRunReport: Hashable, Sendable {
    public var key: TaskRunKey
    public var state: TaskRunState
    /// The error, the exit code, or what the run waits for.
    public var message: String
}

/// Runs the task runs a plan owes, each at most once: a run's row is written before it
/// starts, and the store refuses a second row for the same task, revision and machine.
///
/// Blocking, like the applier: every target runs on a thread of its own, at most the task's
/// `concurrency` at a time, because SSH sessions and BMC calls block. Imaging runs only
/// start here (boot once from the network, power cycle) and end when the imaging
/// environment calls back, or at their deadline.
public struct TaskRunner: Sendable {
    public struct Settings: Sendable {
        public var secrets: SecretStore?
        /// Where relative BMC paths (`caFile`) start.
        public var bmcBaseDirectory: String
        public var knownHostsFile: String
        public var sshConnectTimeout: Duration
        /// Whether `imaging:` is configured: without it an imaging task cannot boot anything.
        public var imagingConfigured: Bool
        /// Whether `discovery:` is configured: without it a rediscovered machine has nothing
        /// to boot, and would stay undiscovered.
        public var discoveryConfigured: Bool
        /// A run keeps at most this much of a command's output.
        public var outputLimit: Int

        public init(secrets: SecretStore?, bmcBaseDirectory: String, knownHostsFile: String,
                    sshConnectTimeout: Duration = .seconds(10), imagingConfigured: Bool, discoveryConfigured: Bool,
                    outputLimit: Int = 64 * 1024) {
            self.secrets = secrets
            self.bmcBaseDirectory = bmcBaseDirectory
            self.knownHostsFile = knownHostsFile
            self.sshConnectTimeout = sshConnectTimeout
            self.imagingConfigured = imagingConfigured
            self.discoveryConfigured = discoveryConfigured
            self.outputLimit = outputLimit
        }
    }

    /// Actions whose whole run happens inside `run`: one still running when a runner starts
    /// was cut short by a process that is gone.
    static let inProcessActions: Set<TaskActionKind> = [.ssh, .power, .rediscover]

    let store: any Store
    let fleet: Fleet
    let settings: Settings
    let resolver: DefaultsResolver
    /// Run start times, imaging deadlines and overdue checks read this clock.
    let clock: WallClock

    public init(store: any Store, fleet: Fleet, settings: Settings, clock: WallClock = .system) {
        self.store = store
        self.fleet = fleet
        self.settings = settings
        self.clock = clock
        resolver = DefaultsResolver(groups: fleet.groups)
    }

    /// Ends runs a dead process left running and imaging runs past their deadline, then
    /// runs `tasks`, one task after another. The caller holds the leader lock. Once `stop`
    /// is set no target starts: the ones not started stay pending for the next run.
    public func run(_ tasks: [TaskPlan], stop: StopSignal = StopSignal()) throws -> [TaskRunReport] {
        // This site's machines only: another site's leader may have runs under way.
        var reports = try store.failInterruptedTaskRuns(actions: Self.inProcessActions, machines: Set(fleet.machines.map(\.name)),
                                                        at: clock.now()).map(Self.report)
        reports += try store.failOverdueTaskRuns(at: clock.now()).map(Self.report)
        let machines = Dictionary(fleet.machines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for plan in tasks where !stop.isSet {
            // The plan was made from this fleet; a task edited since has another revision
            // and is planned again next time.
            guard let task = fleet.tasks.first(where: { $0.name == plan.task }), TaskRevision.of(task) == plan.revision else { continue }
            let recorded = try store.taskRuns(task: task.name).filter { $0.key.revision == plan.revision }
            let owed = plan.targets.compactMap { machines[$0] }
            // An imaging run goes on after this returns, so `concurrency` counts the runs
            // still going; the other targets wait, pending, for a later run.
            let targets = task.action.isImaging
                ? Array(owed.prefix(max(0, task.concurrency - recorded.count { $0.state == .running }))) : owed
            // A failure recorded before (by another run of dploy, or an imaging callback)
            // stops the task as much as one seen now.
            let stopped = Mutex(task.stopOnFailure && recorded.contains { $0.state == .failed })
            let results = Mutex<[TaskRunReport]>([])
            Self.forEach(targets.count, concurrently: task.concurrency) { index in
                guard !stop.isSet else { return }
                let report = runTarget(task, revision: plan.revision, on: targets[index],
                                       skip: task.stopOnFailure && stopped.withLock { $0 }, stop: stop)
                guard let report else { return }
                if report.state == .failed { stopped.withLock { $0 = true } }
                results.withLock { $0.append(report) }
            }
            reports += results.withLock { $0 }.sorted { $0.key < $1.key }
        }
        return reports
    }

    /// Runs one target, or records it skipped. nil when its run was already recorded.
    func runTarget(_ task: TaskDefinition, revision: String, on machine: Machine, skip: Bool,
                   stop: StopSignal = StopSignal()) -> TaskRunReport? {
        let key = TaskRunKey(task: task.name, revision: revision, machine: machine.name)
        let mac = machine.mac.value
        let now = clock.now()
        do {
            if skip {
                let reason = "an earlier target failed and the task says stopOnFailure"
                let run = TaskRun(key: key, mac: mac, action: task.action.kind, state: .skipped, startedAt: now, finishedAt: now,
                                  error: reason)
                return try store.startTaskRun(run) ? TaskRunReport(key: key, state: .skipped, message: reason) : nil
            }
            // A machine in its imaging environment does nothing else: another task's power
            // cycle would cut the image short, and an SSH command would find no system.
            if let imaging = try store.runningTaskRun(mac: mac, actions: TaskActionKind.imaging, at: now) {
                return TaskRunReport(key: key, state: .pending, message: "waits: \(machine.name) is imaging for task '\(imaging.key.task)'")
            }
            // Nor under a BMC job: a task's power cycle or network boot would reset a flash.
            if let job = try store.bmcJobs(states: [.queued, .running], machine: machine.name, limit: 1).first {
                return TaskRunReport(key: key, state: .pending, message: "waits: \(machine.name) has BMC job \(job.id) (\(job.step), \(job.progressText))")
            }
            let deadline = task.action.isImaging ? now.addingTimeInterval(task.timeout.seconds) : nil
            let run = TaskRun(key: key, mac: mac, action: task.action.kind, state: .running, startedAt: now, deadline: deadline)
            guard try store.startTaskRun(run) else { return nil }
        } catch {
            return TaskRunReport(key: key, state: .pending, message: "not started: the store cannot record the run: \(error)")
        }
        let outcome: TaskRunOutcome?
        do {
            outcome = try execute(task, on: machine, key: key, stop: stop)
        } catch {
            outcome = .failed(String(describing: error))
        }
        guard let outcome else {
            return TaskRunReport(key: key, state: .running, message: "booting the imaging environment; waiting for its callbacks")
        }
        guard stop.isLeading else {
            return TaskRunReport(key: key, state: .running, message: "result not recorded: this dploy lost the lead while the run went")
        }
        do {
            _ = try store.finishTaskRun(key, outcome, at: clock.now())
        } catch {
            return TaskRunReport(key: key, state: .failed, message: "the store cannot record the result: \(error)")
        }
        return Self.report(TaskRun(key: key, mac: mac, action: task.action.kind, state: outcome.state,
                                   exitCode: outcome.exitCode, error: outcome.error))
    }

    /// Does the action. nil for a run that goes on after this returns (imaging).
    func execute(_ task: TaskDefinition, on machine: Machine, key: TaskRunKey, stop: StopSignal = StopSignal()) throws -> TaskRunOutcome? {
        switch task.action {
        case .ssh(let command, let user, let credentials, let hostKey, let port):
            return try runSSH(command, user: user, credentials: credentials, hostKey: hostKey, port: port, on: machine,
                              timeout: task.timeout)
        case .power(let action):
            let result = try bmc(machine, stop: stop).setPower(action)
            return TaskRunOutcome(state: .succeeded, output: "power \(action.rawValue): \(result)")
        case .rediscover:
            guard settings.discoveryConfigured else {
                return .failed("the controller config has no 'discovery': a forgotten machine would have nothing to boot")
            }
            try store.forgetMachine(machine.mac.value, reason: "task '\(task.name)'", at: clock.now())
            return .succeeded
        case .imageCapture, .imageRestore:
            guard settings.imagingConfigured else {
                return .failed("the controller config has no 'imaging' (the kernel and initrd of the imaging environment)")
            }
            let driver = try bmc(machine, stop: stop)
            try driver.bootOnce(from: .pxe)
            try driver.setPower(.cycle)
            return nil
        }
    }

    /// The machine's BMC, with its effective settings (group defaults applied). Each request
    /// that changes it is sent only while this dploy leads (`stop.isLeading`): the run's row
    /// was written under the lead, but a process frozen after that must not act on it.
    func bmc(_ machine: Machine, stop: StopSignal = StopSignal()) throws -> BMCDriver {
        guard let bmc = resolver.resolve(machine).settings.bmc else {
            throw BMCError(.configuration, address: "(none)", "machine '\(machine.name)' has no 'spec.bmc'")
        }
        var options = RedfishOptions()
        options.mayChange = { stop.isLeading }
        return BMCDriver(endpoint: try BMCEndpoint.from(bmc, secrets: settings.secrets, baseDirectory: settings.bmcBaseDirectory),
                         options: options)
    }

    /// `task runs: 3 succeeded, 1 running`: what a reconcile's task runs came to.
    public static func summary(_ reports: [TaskRunReport]) -> String {
        "task runs: " + TaskRunState.allCases.compactMap { state in
            let count = reports.count { $0.state == state }
            return count == 0 ? nil : "\(count) \(state.rawValue)"
        }.joined(separator: ", ")
    }

    static func report(_ run: TaskRun) -> TaskRunReport {
        var message = run.error ?? run.state.rawValue
        if let code = run.exitCode, run.error == nil { message = "exit code \(code)" }
        return TaskRunReport(key: run.key, state: run.state, message: message)
    }

    /// Calls `body` for 0..<count on at most `width` threads of its own, in the background
    /// (`ThreadPriority`: an SSH handshake's crypto waits; boot answers do not), and waits for all.
    static func forEach(_ count: Int, concurrently width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        let next = Mutex(0)
        let group = DispatchGroup()
        for _ in 0..<min(max(1, width), count) {
            group.enter()
            Thread {
                defer { group.leave() }
                ThreadPriority.runCurrentThreadInBackground()
                while true {
                    let index = next.withLock { value in
                        defer { value += 1 }
                        return value
                    }
                    guard index < count else { return }
                    body(index)
                }
            }.start()
        }
        group.wait()
    }
}
