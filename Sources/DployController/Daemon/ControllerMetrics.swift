import DployInventory
import DployPlan
import Prometheus

/// The daemon's Prometheus metrics, served at `/metrics`. One registry per daemon; the
/// loop, the webhook and (later) the BMC client record into it.
public final class ControllerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    private let reconcileDuration: DurationHistogram
    private let planActionsPending: Gauge
    public let bmcRequests: Counter
    public let bmcErrors: Counter

    public init() {
        reconcileDuration = registry.makeDurationHistogram(
            descriptor: Self.named("dploy_reconcile_duration_seconds", "Time of one reconcile: fetch, load (not on BMC news), observe, plan, apply."),
            buckets: [.milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                      .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60)])
        planActionsPending = registry.makeGauge(
            descriptor: Self.named("dploy_plan_actions_pending", "Actions in the last plan that were not applied."))
        bmcRequests = registry.makeCounter(descriptor: Self.named("dploy_bmc_requests_total", "Requests sent to BMCs."))
        bmcErrors = registry.makeCounter(descriptor: Self.named("dploy_bmc_errors_total", "BMC requests that failed."))
        // Every result and state appears from the start, at zero: a dashboard can tell
        // "none yet" from "not reported".
        for result in DaemonStatus.Run.Result.allCases { _ = reconcileRuns(result) }
        for result in WebhookResult.allCases { _ = webhookDeliveries(result) }
        for state in TaskRunState.allCases where state != .pending { _ = taskRuns(state) }
        for state in [BMCJobState.succeeded, .failed, .cancelled] { _ = bmcJobsFinished(state) }
        recordBMCJobs([])
        recordMachines([:])
        recordConditions([:])
    }

    public enum WebhookResult: String, CaseIterable, Sendable {
        /// Signed and for the followed branch: a run was queued.
        case accepted
        /// Signed, but for another branch: nothing to do.
        case ignored
        /// Missing or wrong signature.
        case unauthorized
    }

    /// A metric by its full name (the unit is already in it) and help text.
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private func reconcileRuns(_ result: DaemonStatus.Run.Result) -> Counter {
        registry.makeCounter(descriptor: Self.named("dploy_reconcile_runs_total", "Reconcile runs by result."), labels: [("result", result.rawValue)])
    }

    private func webhookDeliveries(_ result: WebhookResult) -> Counter {
        registry.makeCounter(descriptor: Self.named("dploy_webhook_deliveries_total", "Git webhook deliveries by result."), labels: [("result", result.rawValue)])
    }

    private func taskRuns(_ state: TaskRunState) -> Counter {
        registry.makeCounter(descriptor: Self.named("dploy_task_runs_total", "Task runs by how this daemon left them: running (imaging), succeeded, failed, skipped."), labels: [("state", state.rawValue)])
    }

    func recordTaskRuns(_ reports: [TaskRunReport]) {
        for report in reports { taskRuns(report.state).increment() }
    }

    private func bmcJobsFinished(_ state: BMCJobState) -> Counter {
        registry.makeCounter(descriptor: Self.named("dploy_bmc_jobs_finished_total", "BMC jobs (firmware, BIOS, RAID) this daemon ran to their end, by result."),
                             labels: [("state", state.rawValue)])
    }

    private func bmcJobsActive(_ state: BMCJobState, _ kind: BMCJobKind) -> Gauge {
        registry.makeGauge(descriptor: Self.named("dploy_bmc_jobs", "BMC jobs queued or running, by kind."),
                           labels: [("state", state.rawValue), ("kind", kind.rawValue)])
    }

    /// A job ended (the runner calls this from its worker thread).
    func recordBMCJobFinished(_ state: BMCJobState) { bmcJobsFinished(state).increment() }

    /// The queued and running jobs as the store holds them now; every pair is set.
    func recordBMCJobs(_ active: [BMCJob]) {
        for state in [BMCJobState.queued, .running] {
            for kind in BMCJobKind.allCases {
                bmcJobsActive(state, kind).set(Double(active.count { $0.state == state && $0.kind == kind }))
            }
        }
    }

    private func machines(_ state: String) -> Gauge {
        registry.makeGauge(descriptor: Self.named("dploy_machines", "Machines by observed state."), labels: [("state", state)])
    }

    func recordRun(_ run: DaemonStatus.Run, pendingActions: Int) {
        reconcileRuns(run.result).increment()
        reconcileDuration.record(.seconds(run.seconds))
        planActionsPending.set(Double(pendingActions))
    }

    func recordMachines(_ counts: [String: Int]) {
        for state in MachineState.allCases.map(\.rawValue) + ["never seen"] {
            machines(state).set(Double(counts[state] ?? 0))
        }
    }

    private func conditions(_ type: MachineCondition.Kind, _ status: MachineCondition.Status) -> Gauge {
        registry.makeGauge(descriptor: Self.named("dploy_machine_condition",
                                                  "Machines by condition and status (Ready, Installed, PowerInSync, FirmwareInSync, HardwareChanged)."),
                           labels: [("type", type.rawValue), ("status", status.rawValue)])
    }

    /// Counts per type and status; every pair is set, at zero when no machine has it, so
    /// `dploy_machine_condition{type="Ready",status="False"} > 0` works from the first run.
    func recordConditions(_ counts: [MachineCondition.Kind: [MachineCondition.Status: Int]]) {
        for type in MachineCondition.Kind.allCases {
            for status in [MachineCondition.Status.true, .false, .unknown] {
                conditions(type, status).set(Double(counts[type]?[status] ?? 0))
            }
        }
    }

    public func recordWebhook(_ result: WebhookResult) { webhookDeliveries(result).increment() }

    /// The text exposition format Prometheus scrapes.
    public func exposition() -> String { registry.emitToString() }
}

