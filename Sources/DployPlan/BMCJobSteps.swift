import DployInventory
import DploySpec
import Foundation

/// Which plan steps become BMC jobs, and how the planner weighs the jobs already recorded.
extension Action {
    /// The job a step becomes: every BMC step (a flash, a BIOS write, a boot-once, a power
    /// step), named so that the same step gets the same name on every plan (`firmware iLO 5
    /// 3.08`, `bios`, `power on`); a reinstall's boot-once and cycle are named by their
    /// generation (`start the reinstall of generation 3: power cycle`), so each generation
    /// is started once. nil for the steps apply runs itself (files, DHCP).
    public var jobStep: (kind: BMCJobKind, step: String)? {
        switch self {
        case .updateFirmware(_, let target, _): (.firmware, "firmware \(target.component) \(target.version)")
        case .setBIOSAttributes: (.bios, "bios")
        case .configureRAID(_, let change, _): (.raid, "raid \(change.controller)")
        case .bootOnceFromNetwork(_, let reason): (.boot, Self.stepName("boot once from network", reason))
        case .power(_, let power, let reason): (.power, Self.stepName("power \(power.rawValue)", reason))
        case .writeFile, .removeFile, .writeDHCPConfig, .reloadDHCP: nil
        }
    }

    private static func stepName(_ what: String, _ reason: Reason) -> String {
        reason.code == .generationBehind ? "\(reason.message): \(what)" : what
    }

    /// Whether this step starts a reinstall (a boot-once or power cycle planned because the
    /// installed generation is behind): done once per generation.
    public var startsReinstall: Bool {
        switch self {
        case .bootOnceFromNetwork(_, let reason), .power(_, _, let reason): reason.code == .generationBehind
        default: false
        }
    }

    /// The step as a job to enqueue: the action itself is the payload, so the worker runs
    /// exactly what the plan said (image, sha256, BIOS values, ETag).
    public func bmcJob(mac: MACAddress?, site: String = Site.defaultName, at: Date) -> BMCJob? {
        guard let (kind, step) = jobStep, let machine else { return nil }
        // Encoding an action (strings and numbers) cannot fail.
        let payload = String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
        return BMCJob(machine: machine, mac: mac, site: site, kind: kind, step: step, payload: payload, createdAt: at)
    }

    /// The action a job's payload holds.
    public init(jobPayload payload: String) throws {
        self = try JSONDecoder().decode(Action.self, from: Data(payload.utf8))
    }
}

/// The planner's rules for a machine with BMC jobs:
/// - a step whose job is queued or running is not planned again (the job owes it);
/// - a firmware step whose job failed (or was skipped after a failure) is not flashed again
///   on its own, nor one whose job succeeded while the inventory still shows the old
///   version: a flash is not something to repeat every interval. BIOS writes are cheap and
///   harmless to repeat, and are planned again while they drift;
/// - a reinstall's boot-once and power cycle are sent once per generation: done, the plan
///   waits for the machine to boot its installer; failed, until `dploy jobs retry`;
/// - a step whose job was cancelled (not allowed when a worker took it) is planned again;
/// - while any job of the machine is active, its boot-once and power steps wait: no reset in
///   the middle of a flash, and BIOS settings are pending before a reinstall's reboot.
enum BMCJobGate {
    static func apply(_ jobs: [BMCJob], machine: String, actions: inout [Action], reasons: inout [Reason], notes: inout [Reason]) {
        guard !jobs.isEmpty else { return }
        let latest = Dictionary(jobs.map { ($0.step, $0) }) { first, second in first.id > second.id ? first : second }
        for job in jobs.sorted(by: { $0.id < $1.id }) where job.state.isActive {
            notes.append(Reason(.bmcJobActive, "\(machine): \(job.step): \(job.progressText) (job \(job.id))"))
        }
        var reinstallSent = false
        actions.removeAll { action in
            guard let (kind, step) = action.jobStep, let job = latest[step] else { return false }
            if job.state.isActive {
                reasons.append(Reason(.bmcJobActive, "\(step): \(job.progressText) (job \(job.id))"))
                return true
            }
            if action.startsReinstall {
                switch job.state {
                case .succeeded:
                    reinstallSent = true
                    notes.append(Reason(.reinstallStarted, "\(machine): \(step): done by job \(job.id); waiting for the machine to "
                                        + "network-boot its installer (not sent again for this generation: a reset mid-POST would start over)"))
                    return true
                case .failed:
                    notes.append(Reason(.bmcJobFailed, "\(machine): \(step): job \(job.id) \(job.progressText); "
                                        + "not sent again for this generation until `dploy jobs retry \(job.id)`"))
                    return true
                case .queued, .running, .cancelled, .skipped:
                    // Skipped or cancelled, it was never sent: planned again.
                    return false
                }
            }
            guard kind == .firmware else { return false }
            switch job.state {
            case .failed, .skipped:
                notes.append(Reason(.bmcJobFailed, "\(machine): \(step): job \(job.id) \(job.progressText); "
                                    + "not flashed again until the baseline changes or `dploy jobs retry \(job.id)`"))
                return true
            case .succeeded:
                notes.append(Reason(.firmwareFlashed, "\(machine): \(step): flashed by job \(job.id), but the inventory "
                                    + "still reports the old version (it may activate at the next reboot); not flashed again"))
                return true
            case .queued, .running, .cancelled:
                return false
            }
        }
        if reinstallSent, actions.contains(where: { $0.kind == .power }) {
            // The cycle turned it on to install: powering it off (its `power: off`) would stop
            // the POST or the installer. Its power is minded again once the install is over.
            actions.removeAll { $0.kind == .power }
            reasons.append(Reason(.reinstallStarted, "its power waits: the reinstall it was started for has not booted its installer yet"))
        }
        if let active = jobs.filter(\.state.isActive).min(by: { $0.id < $1.id }) {
            let held = actions.filter { $0.kind == .bootOnceFromNetwork || $0.kind == .power }
            if !held.isEmpty {
                actions.removeAll { $0.kind == .bootOnceFromNetwork || $0.kind == .power }
                let message = "its boot and power steps wait for job \(active.id) (\(active.step), \(active.progressText))"
                reasons.append(Reason(.waitsForBMCJob, message))
                notes.append(Reason(.waitsForBMCJob, "\(machine): \(message)"))
            }
        }
    }
}
