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
    /// The site whose leader enqueues: its controller alone claims the jobs.
    let site: String
    let clock: WallClock

    init(store: any Store, runner: BMCJobRunner?, fleet: Fleet, site: String, clock: WallClock) {
        self.store = store
        self.runner = runner
        self.site = site
        macs = Dictionary(fleet.machines.map { ($0.name, $0.mac.value) }, uniquingKeysWith: { first, _ in first })
        self.clock = clock
    }

    func enqueue(_ action: Action) throws -> Int64? {
        guard let machine = action.machine, let job = action.bmcJob(mac: macs[machine], site: site, at: clock.now()) else {
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
    /// and the secrets folder. Not started: the caller starts it once it may write. With
    /// `leading`, each request that changes a BMC is sent only while it says this dploy leads
    /// (a job's right to send is fenced in the store, but a worker frozen after that must not use it).
    /// - Parameter admitting: whether each job is checked again when a worker takes it
    ///   (`JobAdmission`): the daemon's runner, whose queue outlives the plan that filled it.
    public func bmcJobRunner(store: any Store, fleet: @escaping @Sendable () -> Fleet?, logger: Logger, warnings: BMCWarnings? = nil,
                             admitting: Bool = false,
                             recordEvent: @escaping @Sendable (MachineEvent) -> Void = { _ in },
                             finished: @escaping @Sendable (BMCJob, BMCJobState) -> Void = { _, _ in },
                             leading: (@Sendable () -> Bool)? = nil) -> BMCJobRunner {
        var settings = BMCJobRunner.Settings(workers: config.bmcJobWorkers)
        settings.redfish.mayChange = leading
        settings.firmwareTimeout = config.bmcFirmwareTimeout
        settings.pollInterval = config.bmcPollInterval
        settings.site = config.site
        let secrets = secretStore, base = bmcBaseDirectory, clock = self.clock
        let access: @Sendable () -> BMCJobAccess? = {
            guard let fleet = fleet() else { return nil }
            var access = BMCJobAccess(fleet: fleet, secrets: secrets, baseDirectory: base, warnings: warnings)
            if admitting {
                access.refusal = { job in JobAdmission(fleet: fleet, store: store, now: clock.now()).refusal(for: job) }
            }
            return access
        }
        return BMCJobRunner(store: store, settings: settings, access: access, logger: logger, clock: clock,
                            recordEvent: recordEvent, finished: finished)
    }
}
