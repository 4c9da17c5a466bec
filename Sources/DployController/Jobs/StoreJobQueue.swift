import DployApply
import DployInventory
import DployPlan
import DploySpec
import DployBMC
import Foundation
import Logging

/// The applier's job queue: each firmware, BIOS or RAID step becomes a `queued` row in the store
/// (the record exists before any worker starts it), then the runner is woken.
struct StoreJobQueue: BMCJobQueue {
    let store: any Store
    let runner: BMCJobRunner?
    let macs: [String: MACAddress]
    let clock: WallClock

    init(store: any Store, runner: BMCJobRunner?, fleet: Fleet, clock: WallClock) {
        self.store = store
        self.runner = runner
        macs = Dictionary(fleet.machines.map { ($0.name, $0.mac.value) }, uniquingKeysWith: { first, _ in first })
        self.clock = clock
    }

    func enqueue(_ action: Action) throws -> Int64? {
        guard let machine = action.machine, let job = action.bmcJob(mac: macs[machine], at: clock.now()) else {
            throw BMCStepRefused("a \(action.kind.rawValue) step is not a BMC job")
        }
        let queued = try store.enqueueBMCJob(job)
        if queued != nil {
            try? store.record(MachineEvent(mac: job.mac, at: job.createdAt, kind: "job-queued", message: "\(job.step) (job \(queued!.id))"))
            runner?.wake()
        }
        return queued?.id
    }
}

extension Reconciler {
    /// The worker pool for this controller's BMC jobs (`bmc.jobWorkers` threads, the
    /// config's firmware timeout), finding BMCs through `fleet` (the desired state in force)
    /// and the secrets folder. Not started: the caller starts it once it may write.
    public func bmcJobRunner(store: any Store, fleet: @escaping @Sendable () -> Fleet?, logger: Logger, warnings: BMCWarnings? = nil,
                             recordEvent: @escaping @Sendable (MachineEvent) -> Void = { _ in },
                             finished: @escaping @Sendable (BMCJob, BMCJobState) -> Void = { _, _ in }) -> BMCJobRunner {
        var settings = BMCJobRunner.Settings(workers: config.bmcJobWorkers)
        settings.firmwareTimeout = config.bmcFirmwareTimeout
        settings.pollInterval = config.bmcPollInterval
        let secrets = secretStore, base = bmcBaseDirectory
        return BMCJobRunner(store: store, settings: settings,
                            access: { fleet().map { BMCJobAccess(fleet: $0, secrets: secrets, baseDirectory: base, warnings: warnings) } },
                            logger: logger, clock: clock, recordEvent: recordEvent, finished: finished)
    }
}
