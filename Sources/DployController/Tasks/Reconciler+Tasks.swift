import DployInventory
import DployPlan
import DploySpec

extension Reconciler {
    /// Runs the task runs `plan` owes (and ends runs left running by a dead process, and
    /// imaging runs past their deadline). The caller holds the leader lock; the store is
    /// the daemon's, or opened writable for this call.
    public func runTasks(_ plan: Plan, fleet: Fleet, store: (any Store)? = nil, stop: StopSignal = StopSignal()) throws -> [TaskRunReport] {
        if config.mode == .planOnly { throw ReconcileError.planOnly(configPath, "mode: plan-only") }
        if config.suspend { throw ReconcileError.planOnly(configPath, "suspend: true") }
        guard let store = try store ?? openStore(creating: true) else { return [] }
        let settings = TaskRunner.Settings(secrets: secretStore, bmcBaseDirectory: bmcBaseDirectory,
                                           knownHostsFile: config.knownHostsPath, sshConnectTimeout: config.sshConnectTimeout,
                                           imagingConfigured: config.imaging != nil, discoveryConfigured: config.discovery != nil)
        return try TaskRunner(store: store, fleet: fleet, settings: settings, clock: clock).run(plan.tasks, stop: stop)
    }
}

extension TaskRunReport {
    /// `task rotate-motd @3f2a… on web-01: succeeded (exit code 0)`
    public var line: String {
        "task \(key.task) @\(key.revision.prefix(8)) on \(key.machine): \(state.rawValue)"
            + (message == state.rawValue ? "" : " (\(message))")
    }
}
