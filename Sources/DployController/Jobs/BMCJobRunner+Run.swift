import DployApply
import DployBMC
import DployInventory
import DployPlan
import DploySpec
import Foundation
import Logging

/// One job, from claim (or resume) to its end, on the worker's thread.
extension BMCJobRunner {
    func run(_ job: BMCJob) {
        let metadata: Logger.Metadata = ["machine": "\(job.machine)", "job": "\(job.id)", "step": "\(job.step)"]
        do {
            let action = try Action(jobPayload: job.payload)
            guard let access = access() else {
                throw BMCStepRefused("no desired state is in force yet, so the machine's BMC is not known")
            }
            // A job resumed after a restart may have been sent already: it is followed, not refused.
            if job.submittedAt == nil, job.tracking == nil, let reason = access.refusal?(job) {
                finish(job, .cancelled, reason, event: ("job-cancelled", "\(job.step): not started: \(reason) (job \(job.id))"),
                       metadata: metadata)
                return
            }
            let driver = BMCDriver(endpoint: try access.endpoint(machine: job.machine), options: settings.redfish,
                                   warnings: access.warnings)
            switch action {
            case .updateFirmware(_, let target, _):
                guard let outcome = try flash(job, target, driver, metadata: metadata) else { return }  // stopping: resumed later
                finish(job, .succeeded, nil, event: ("firmware-updated", "\(describe(target)) from \(target.image): \(outcome) (job \(job.id))"),
                       metadata: metadata)
            case .setBIOSAttributes(_, let changes, let ifMatch, _):
                let list = changes.map(\.text).joined(separator: ", ")
                if job.submittedAt != nil {
                    // The PATCH may have been written before the stop. Not sent blind again: the
                    // next plan reads the pending settings and writes only what still differs.
                    throw BMCStepRefused("dploy stopped while this BIOS write was sent; the next plan reads the pending settings and writes again only if they still differ")
                }
                guard try takeTheSend(job, status: "writing") else {
                    return  // another worker, or a leader of a newer term, has it: this one sends nothing
                }
                try driver.setBIOSAttributes(Dictionary(changes.map { ($0.name, $0.desired) }) { _, last in last }, ifMatch: ifMatch)
                finish(job, .succeeded, nil, event: ("bios-pending", "\(list): written to the pending settings, applied at next reboot (job \(job.id))"),
                       metadata: metadata)
            case .bootOnceFromNetwork:
                // A setting, not an act: sent again after a restart (or by a new leader that
                // took over a frozen one's job), it changes nothing more.
                if job.submittedAt == nil { guard try takeTheSend(job) else { return } }
                try driver.bootOnce(from: .pxe)
                finish(job, .succeeded, nil, event: ("boot-once", "\(job.step): the next boot is from the network (job \(job.id))"),
                       metadata: metadata)
            case .power(_, let power, _):
                if job.submittedAt == nil {
                    guard try takeTheSend(job) else { return }
                } else if power == .cycle {
                    // It may have gone: a second cycle would reset the machine mid-POST.
                    throw BMCStepRefused("dploy stopped while this power cycle was sent; it is not sent blind again (the next plan decides)")
                }
                // On and off do nothing when the machine is already so: sent again, they are harmless.
                let result = try driver.setPower(power)
                let sent = result.resetType.map { "reset \($0) (it was \(result.before))" } ?? "already \(result.before): nothing sent"
                finish(job, .succeeded, nil, event: ("power", "\(job.step): \(sent) (job \(job.id))"), metadata: metadata)
            case .configureRAID(_, let change, _):
                if job.submittedAt != nil {
                    // A deletion or creation may have been sent before the stop: never sent
                    // blind again. The next plan reads the controller and asks only for what differs.
                    throw BMCStepRefused("dploy stopped while this RAID change was sent; the next plan reads the controller and changes only what still differs")
                }
                guard try takeTheSend(job, status: "writing") else { return }
                try RAIDApply.run(change, on: driver)
                let words = change.interface == .smartStorageConfig ? "written to SmartStorageConfig, applied at next reboot" : "done"
                finish(job, .succeeded, nil, event: ("raid-\(change.interface == .smartStorageConfig ? "pending" : "changed")",
                                                     "\(change.lines.map { $0.replacingOccurrences(of: "bmc     ", with: "") }.joined(separator: "; ")): \(words) (job \(job.id))"),
                       metadata: metadata)
            case .writeFile, .removeFile, .writeDHCPConfig, .reloadDHCP:
                throw BMCStepRefused("a \(action.kind.rawValue) step is not a BMC job")
            }
        } catch let error as StoreError where { if case .notLeader = error { true } else { false } }() {
            logger.info("BMC job left to the new leader: \(job.step): \(error)", metadata: metadata)
        } catch let error as BMCError where error.kind == .notLeading {
            // Deposed: the job is the new leader's now (it resumes it); this worker writes nothing.
            logger.info("BMC job left to the new leader: \(job.step): \(error)", metadata: metadata)
        } catch {
            let kind = "\(job.kind.rawValue)-failed"
            finish(job, .failed, "\(error)", event: (kind, "\(job.step): \(error) (job \(job.id))"), metadata: metadata)
        }
    }

    /// Flashes one component, or follows the flash a previous runner started. Returns the
    /// outcome's words, or nil when the runner stops first (the job stays `running`).
    private func flash(_ job: BMCJob, _ target: FirmwareTarget, _ driver: BMCDriver, metadata: Logger.Metadata) throws -> String? {
        var follower: UpdateFollower
        var submittedAt = job.submittedAt
        if let text = job.tracking {
            guard let tracking = RedfishClient.UpdateTracking(text: text) else {
                throw BMCStepRefused("the job's tracking '\(text)' is not one dploy writes; the update is not posted again")
            }
            // iLO 5's state past Idle before the stop means Idle now is the end, as it did then.
            // "posting"/"posted" are dploy's own words, written before the BMC said anything:
            // iLO may still show Idle then, which is not the end.
            follower = UpdateFollower(tracking: tracking,
                                      seenActive: job.status.map { !UpdateFollower.settledStates.union(["posting", "posted"]).contains($0) } ?? false)
            logger.info("firmware update resumed: \(describe(target)), \(job.progressText)", metadata: metadata)
        } else if job.submittedAt != nil {
            // Stopped between recording the request and recording how to follow it: whether
            // the BMC took it is unknown. It is never posted twice; iLO's own state may say.
            guard let (path, now) = try driver.hpeUpdateState(), !UpdateFollower.settledStates.contains(now.state) else {
                throw BMCStepRefused("dploy stopped while asking the BMC to flash \(target.image), and the BMC shows no update under way; "
                    + "it was not asked again: check its firmware, then `dploy jobs retry \(job.id)`")
            }
            follower = UpdateFollower(tracking: .hpeUpdateService(path), seenActive: true)
            _ = try store.updateBMCJob(job.id, BMCJobUpdate(tracking: follower.tracking.text, status: now.state, percent: now.percent))
            logger.info("firmware update found under way after a restart: \(describe(target)) (\(now.state))", metadata: metadata)
        } else {
            try checkImage(target)
            // The plan saw another version, but that may be an hour old (a queue, a retry of a
            // flash that timed out but worked, someone else's update): a component already at
            // the baseline's version is not flashed again. It is also what lets an unseen end
            // be confirmed by the inventory below.
            if let installed = try? driver.installedVersion(of: target.component), target.isReached(by: installed) {
                return "already at \(installed): not flashed"
            }
            let now = clock.now()
            submittedAt = now
            // Recorded before the POST: from here on this job never posts again. Refused when
            // another worker (or a leader of a newer term) has written it first: then this one
            // posts nothing and leaves the job to it.
            guard try store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: now, status: "posting")) else { return nil }
            let tracking = try driver.startFirmwareUpdate(imageURI: target.image)
            _ = try store.updateBMCJob(job.id, BMCJobUpdate(tracking: tracking.text, status: "posted"))
            follower = UpdateFollower(tracking: tracking)
            logger.info("firmware update started: \(describe(target))", metadata: metadata)
        }
        let deadline = (submittedAt ?? clock.now()).addingTimeInterval(settings.firmwareTimeout.seconds)
        var last: UpdateProgress?
        var inventoryReadAt: Date?
        while true {
            let now: UpdateProgress
            do {
                now = try driver.poll(&follower)
            } catch {
                // An iLO flashing its own firmware resets and stops answering for a while: a
                // failed look is not a failed flash until the timeout says so.
                if clock.now() >= deadline { throw error }
                logger.warning("firmware update \(target.component): cannot ask the BMC now (\(error)); asking again", metadata: metadata)
                guard pause(settings.pollInterval) else { return nil }
                continue
            }
            if now != last {
                // Progress is for people: a store that does not answer this once costs nothing.
                _ = try? store.updateBMCJob(job.id, BMCJobUpdate(status: now.state, percent: now.percent))
                logger.info("firmware update \(target.component): \(now.state)\(now.percent.map { " \($0)%" } ?? "")", metadata: metadata)
            }
            last = now
            switch now.phase {
            case .completed:
                return now.state
            case .vanished:
                // A task that vanished finished without saying how; the next inventory read tells.
                return "the BMC dropped the finished task, result unknown until the next read"
            case .failed:
                throw driver.updateFailed(target.image, now)
            case .running:
                // iLO 5 settled as before the POST: the inventory says whether this flash ended
                // before the first look (or while dploy was down). Read at most once a minute:
                // an iLO 5 inventory is a GET per component.
                if follower.endUnconfirmed, inventoryReadAt.map({ clock.now().timeIntervalSince($0) >= 60 }) ?? true {
                    inventoryReadAt = clock.now()
                    do {
                        if let installed = try driver.installedVersion(of: target.component), target.isReached(by: installed) {
                            return "\(now.state) (the firmware inventory shows \(target.component) \(installed))"
                        }
                    } catch {
                        logger.warning("firmware update \(target.component): cannot read the firmware inventory (\(error)); following iLO's state", metadata: metadata)
                    }
                }
                if clock.now() >= deadline { throw driver.updateTimedOut(target.image, now, after: "\(settings.firmwareTimeout.specDescription) (bmc.firmwareTimeout, counted from its SimpleUpdate)") }
                guard pause(settings.pollInterval) else { return nil }
            }
        }
    }

    /// Refuses the step unless the image URL serves the baseline's SHA-256 (see
    /// `FleetBMC.updateFirmware`: the BMC downloads the image itself, this is dploy's one look).
    private func checkImage(_ target: FirmwareTarget) throws {
        let served: String
        if let known = imageDigests.withLock({ $0[target.image] }) {
            served = known
        } else {
            served = try ImageDigest.sha256(of: target.image, timeout: settings.firmwareTimeout).sha256
            imageDigests.withLock { $0[target.image] = served }
        }
        try FleetBMC.check(target, served: served)
    }

    private func finish(_ job: BMCJob, _ state: BMCJobState, _ error: String?, event: (kind: String, message: String),
                        metadata: Logger.Metadata) {
        do {
            guard try store.finishBMCJob(job.id, state, error: error, at: clock.now()) else { return }
        } catch {
            // The row stays running and is resumed (followed, never posted again) by the next runner.
            logger.error("cannot record the end of BMC job \(job.id): \(error)", metadata: metadata)
            return
        }
        finished(job, state)
        switch state {
        case .failed: logger.error("BMC job failed: \(job.step): \(error ?? "")", metadata: metadata)
        case .cancelled: logger.info("BMC job cancelled: \(job.step): \(error ?? "")", metadata: metadata)
        default: logger.info("BMC job done: \(job.step)", metadata: metadata)
        }
        recordEvent(MachineEvent(mac: job.mac, at: clock.now(), kind: event.kind, message: event.message))
    }

    /// Takes the right to send the job's request (a BIOS or RAID write, a boot or power
    /// step): false when another worker, or a leader of a newer term, has it (the store gives
    /// it once, fenced on a shared store).
    private func takeTheSend(_ job: BMCJob, status: String = "sending") throws -> Bool {
        try store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: clock.now(), status: status))
    }

    private func describe(_ target: FirmwareTarget) -> String {
        "\(target.component) \(target.installed) → \(target.version)"
    }
}
