import DployApply
import DployBMC
import DployConfig
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Logging
import Testing

/// Firmware drift as durable BMC jobs, against the recorded-iLO fixture: the apply records
/// jobs and returns without touching a BMC; the worker pool flashes; a runner stopped in
/// the middle of the flashes leaves them running, and a new runner on the same store follows
/// them to their end without a second SimpleUpdate (the fixtures' request logs say so).
@Suite("BMC jobs: firmware off the reconcile, resumed after a restart", .ownThread, .requires(.python3, .openssl))
struct BMCJobTests {
    /// Two machines below their baselines, one on an iLO 5 (Oem.Hpe.State), one on an iLO 6
    /// (a task), each on its own fixture, and the images on loopback.
    final class Lab: @unchecked Sendable {
        let folder: TemporaryFolder
        let ilo5: ILOFixture, ilo6: ILOFixture
        let images: FileServer
        let reconciler: Reconciler

        init(bmc: String = "bmc: {jobWorkers: 4, firmwareTimeout: 2m}", rollout: String = "", clock: WallClock = .system,
             ilo5UpdateSeconds: Double? = nil) async throws {
            let ilo5 = try ILOFixture(generation: 5, updateSeconds: ilo5UpdateSeconds), ilo6 = try ILOFixture(generation: 6)
            let folder = try TemporaryFolder(prefix: "dploy-jobs")
            (self.ilo5, self.ilo6, self.folder) = (ilo5, ilo6, folder)
            for sub in ["specs", "secrets", "images/fw"] {
                try FileManager.default.createDirectory(atPath: folder.file(sub), withIntermediateDirectories: true)
            }
            try folder.write("images/fw/ilo5_308.fwpkg", String(repeating: "iLO 5 3.08 firmware\n", count: 500), mode: 0o644)
            try folder.write("images/fw/ilo6_180.fwpkg", String(repeating: "iLO 6 1.80 firmware\n", count: 500), mode: 0o644)
            let images = try await FileServer(serving: folder.file("images"), log: folder.file("images.log"))
            self.images = images
            let url = "http://127.0.0.1:\(images.port)/fw"
            func digest(_ name: String) throws -> String {
                String(try run("/usr/bin/sha256sum", [folder.file("images/fw/\(name)")]).prefix(64))
            }
            var specs = ""
            for (name, fixture, model, component, version, image, mac) in [
                ("gen10-box", ilo5, "ProLiant DL180 Gen10", "iLO 5", "3.08", "ilo5_308.fwpkg", "52:54:00:00:02:01"),
                ("gen11-box", ilo6, "ProLiant DL380 Gen11", "iLO 6", "1.80", "ilo6_180.fwpkg", "52:54:00:00:02:02"),
            ] {
                try folder.write("secrets/\(name).yaml",
                                 "username: \(fixture.username)\npassword: '\(fixture.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
                specs += """
                    apiVersion: dploy.org/v1
                    kind: FirmwareBaseline
                    metadata: {name: \(name)-fw}
                    spec:
                      models: ["\(model)"]
                      components:
                        - {name: "\(component)", version: "\(version)", image: "\(url)/\(image)", sha256: "\(try digest(image))"}
                    \(rollout)
                    ---
                    apiVersion: dploy.org/v1
                    kind: Machine
                    metadata: {name: \(name)}
                    spec:
                      mac: "\(mac)"
                      firmware: \(name)-fw
                      bmc: {address: "\(fixture.baseURL)", credentials: \(name), fingerprint: "\(fixture.certificate.fingerprint)"}
                    ---

                    """
            }
            try folder.write("specs/fleet.yaml", specs, mode: 0o644)
            try folder.write("dploy.yaml", BMCLab.applyingConfig(bmc), mode: 0o644)
            let config = try ControllerConfig.load(path: folder.file("dploy.yaml")).get()
            reconciler = Reconciler(config: config, configPath: folder.file("dploy.yaml"), clock: clock)
        }

        /// The store, the desired state, the BMCs as read now, and the plan made from them.
        func planned() async throws -> (any Store, DesiredState, ObservedBMCs, PlanResult) {
            try reconciler.makeCallbackKey()
            let store = try #require(try reconciler.openStore(creating: true))
            let desired = try reconciler.loadDesired()
            let read = await reconciler.observeBMCs(desired.fleet)
            #expect(read.observations.allSatisfy { $0.error == nil }, "\(read.observations.compactMap(\.error))")
            return (store, desired, read, try reconciler.plan(desired: desired, store: store, bmc: read))
        }

        func simpleUpdates(_ fixture: ILOFixture) async throws -> Int {
            try await fixture.requests().count {
                $0["method"]?.string == "POST" && $0["path"]?.string?.lowercased().contains("simpleupdate") == true
            }
        }

        func runner(_ store: any Store, fleet: Fleet, events: EventLog, poll: Duration) -> BMCJobRunner {
            var settings = BMCJobRunner.Settings(workers: reconciler.config.bmcJobWorkers)
            settings.pollInterval = poll
            settings.idlePoll = .milliseconds(100)
            return BMCJobRunner(store: store, settings: settings,
                                access: { [reconciler] in BMCJobAccess(fleet: fleet, secrets: reconciler.secretStore, baseDirectory: reconciler.bmcBaseDirectory) },
                                logger: Logger(label: "test.jobs"), recordEvent: { events.append($0) })
        }
    }

    @Test("the apply queues firmware jobs and returns; a restart mid-flash resumes them, and no BMC is asked twice")
    func firmwareJobsResumeAfterRestart() async throws {
        // iLO 5's flash takes 15 s of wall time: the first runner is stopped in the middle of it
        // however slowly this machine runs. (One state per look, it could end between the
        // test seeing it run and stopping the runner, on a loaded machine.)
        let lab = try await Lab(ilo5UpdateSeconds: 15)
        defer { lab.images.stop() }
        let reconciler = lab.reconciler
        let (store, desired, read, result) = try await lab.planned()
        #expect(result.plan.actions.filter { $0.kind == .updateFirmware }.compactMap(\.machine) == ["gen10-box", "gen11-box"])

        // The apply records two jobs and returns: no worker runs yet, and no BMC was asked to flash.
        let report = try reconciler.apply(result, fleet: desired.fleet, jobs: (store, nil))
        #expect(report.queuedJobs == ["gen10-box: firmware iLO 5 3.08 (job 1)", "gen11-box: firmware iLO 6 1.80 (job 2)"])
        #expect(report.bmcSteps.isEmpty)
        #expect(try store.bmcJobs(states: [.queued], machine: nil, limit: 10).count == 2)
        let postsBefore = (try await lab.simpleUpdates(lab.ilo5), try await lab.simpleUpdates(lab.ilo6))
        #expect(postsBefore == (0, 0))

        // Planned again while they wait: no second step, and the plan says where each stands.
        let again = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(!again.plan.actions.contains { $0.kind == .updateFirmware })
        let text = again.plan.text(color: false)
        #expect(text.contains("gen10-box: firmware iLO 5 3.08: queued (job 1)"), "\(text)")
        // And the same apply again queues nothing twice.
        #expect(try reconciler.apply(result, fleet: desired.fleet, jobs: (store, nil)).queuedJobs.allSatisfy { $0.hasSuffix("(already queued)") })

        // The first runner polls slowly and is stopped once both updates were posted and followed once.
        let events = EventLog()
        let first = lab.runner(store, fleet: desired.fleet, events: events, poll: .milliseconds(700))
        try first.start()
        // iLO 5's flash is followed while it runs; iLO 6's task, three looks long, may already
        // be over on a busy machine (then the restart has only iLO 5's left to resume).
        let followed = try await eventually(90) {
            let jobs = try store.bmcJobs(states: nil, machine: nil, limit: 10)
            let followedOrDone = { (job: BMCJob) in job.state == .succeeded || (job.state == .running && job.tracking != nil && job.status != "posted") }
            return jobs.count == 2 && jobs.allSatisfy(followedOrDone)
                && jobs.contains { $0.machine == "gen10-box" && $0.state == .running }
        }
        let seen = try store.bmcJobs(states: nil, machine: nil, limit: 10)
        #expect(followed, "\(seen)")
        first.stop()
        let midway = try store.bmcJobs(states: nil, machine: nil, limit: 10)
        #expect(midway.allSatisfy { ($0.state == .running || $0.state == .succeeded) && $0.submittedAt != nil }
                && midway.contains { $0.state == .running }, "stopped mid-flash: \(midway)")
        #expect(Set(midway.compactMap(\.tracking)) == ["hpe /redfish/v1/UpdateService/ from Complete", "task /redfish/v1/TaskService/Tasks/22/"])
        let progress = try reconciler.plan(desired: desired, store: store, bmc: read).plan.text(color: false)
        #expect(progress.contains("in progress"), "\(progress)")

        // A new runner on the same store (a restarted daemon) follows them to the end.
        let second = lab.runner(store, fleet: desired.fleet, events: events, poll: .milliseconds(20))
        try second.start()
        #expect(second.waitUntilIdle(timeout: .seconds(60)))
        second.stop()
        let done = try store.bmcJobs(states: nil, machine: nil, limit: 10)
        #expect(done.allSatisfy { $0.state == .succeeded && $0.finishedAt != nil && $0.percent == 100 }, "\(done)")
        #expect(try await lab.simpleUpdates(lab.ilo5) == 1, "iLO 5 was asked to flash once, across the restart")
        #expect(try await lab.simpleUpdates(lab.ilo6) == 1, "iLO 6 was asked to flash once, across the restart")
        #expect(events.all.filter { $0.kind == "firmware-updated" }.compactMap(\.mac).sorted { $0.description < $1.description }
                == [MACAddress("52:54:00:00:02:01")!, MACAddress("52:54:00:00:02:02")!])

        // Flashed, while the inventory this test read still says the old version: not flashed again.
        let after = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(!after.plan.actions.contains { $0.kind == .updateFirmware })
        #expect(after.plan.notes.contains { $0.code == .firmwareFlashed && $0.message.hasPrefix("gen10-box: firmware iLO 5 3.08: flashed by job 1") })
        for event in events.all { #expect(!event.message.contains(lab.ilo5.password) && !event.message.contains(lab.ilo6.password)) }
    }

    @Test("a job stopped between recording its request and its tracking is never posted again: it fails and says why")
    func interruptedPostIsNotRepeated() async throws {
        let lab = try await Lab()
        defer { lab.images.stop() }
        let reconciler = lab.reconciler
        let (store, desired, read, result) = try await lab.planned()
        let step = try #require(result.plan.actions.first { $0.machine == "gen10-box" && $0.kind == .updateFirmware })
        // What a daemon killed right after recording its intent leaves behind.
        let planned = try #require(step.bmcJob(mac: nil, at: Date()))
        let job = try #require(try store.enqueueBMCJob(planned))
        #expect(try store.claimBMCJob(site: "default", at: Date())?.id == job.id)
        #expect(try store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: Date(), status: "posting")))

        let events = EventLog()
        let runner = lab.runner(store, fleet: desired.fleet, events: events, poll: .milliseconds(20))
        try runner.start()
        #expect(runner.waitUntilIdle(timeout: .seconds(30)))
        runner.stop()
        let ended = try #require(try store.bmcJobs(states: nil, machine: "gen10-box", limit: 1).first)
        #expect(ended.state == .failed)
        #expect(ended.error?.contains("was not asked again") == true && ended.error?.contains("dploy jobs retry \(job.id)") == true, "\(ended)")
        #expect(try await lab.simpleUpdates(lab.ilo5) == 0)
        // The plan does not flash it again on its own, and says how to.
        let again = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(!again.plan.actions.contains { $0.machine == "gen10-box" && $0.kind == .updateFirmware })
        #expect(again.plan.notes.contains { $0.code == .bmcJobFailed && $0.message.contains("dploy jobs retry \(job.id)") })
    }

    @Test("a controller that starts resumes only its own site's running jobs: another site's flash under way is left to its leader")
    func otherSitesRunningJobIsNotResumed() async throws {
        let lab = try await Lab()
        defer { lab.images.stop() }
        let (store, desired, _, result) = try await lab.planned()
        let step = try #require(result.plan.actions.first { $0.machine == "gen10-box" && $0.kind == .updateFirmware })
        // London's leader is flashing gen10-box: its job is running, posted and followed.
        let planned = try #require(step.bmcJob(mac: MACAddress("52:54:00:00:02:01"), site: "lon", at: Date()))
        let job = try #require(try store.enqueueBMCJob(planned))
        #expect(try store.claimBMCJob(site: "lon", at: Date())?.id == job.id)
        #expect(try store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: Date(), status: "posting")))
        #expect(try store.updateBMCJob(job.id, BMCJobUpdate(tracking: "hpe /redfish/v1/UpdateService/", status: "Flashing", percent: 40)))

        // The default site's controller starts; its fleet does not hold London's machine.
        var fleet = desired.fleet
        fleet.machines.removeAll { $0.name == "gen10-box" }
        let events = EventLog()
        let runner = lab.runner(store, fleet: fleet, events: events, poll: .milliseconds(20))
        try runner.start()
        try await Task.sleep(for: .milliseconds(800))
        runner.stop()
        let after = try #require(try store.bmcJobs(states: nil, machine: "gen10-box", limit: 1).first)
        #expect(after.state == .running && after.error == nil, "London's flash was taken over by another site: \(after)")
        #expect(events.all.isEmpty, "\(events.all)")
        #expect(try await lab.simpleUpdates(lab.ilo5) == 0)
    }

    @Test("a job queued for a machine that has since moved to another site is cancelled unsent, not failed: the new site flashes it")
    func queuedJobOfAMovedMachineIsCancelled() async throws {
        let lab = try await Lab()
        defer { lab.images.stop() }
        let reconciler = lab.reconciler
        let (store, desired, read, result) = try await lab.planned()
        let report = try reconciler.apply(result, fleet: desired.fleet, jobs: (store, nil))
        #expect(report.queuedJobs.count == 2)
        // gen10-box moved to another site before a worker took its job: not in this fleet now.
        var remaining = desired.fleet
        remaining.machines.removeAll { $0.name == "gen10-box" }
        let fleet = remaining
        let runner = reconciler.bmcJobRunner(store: store, fleet: { fleet }, logger: Logger(label: "test.jobs"), admitting: true)
        try runner.start()
        #expect(runner.waitUntilIdle(timeout: .seconds(60)))
        runner.stop()
        let moved = try #require(try store.bmcJobs(states: nil, machine: "gen10-box", limit: 1).first)
        #expect(moved.state == .cancelled && moved.error?.contains("no longer in this controller's desired state") == true, "\(moved)")
        #expect(try await lab.simpleUpdates(lab.ilo5) == 0)
        #expect(try store.bmcJobs(states: nil, machine: "gen11-box", limit: 1).first?.state == .succeeded)
        // The site that has it now plans the flash again: nothing holds it as a failure.
        let again = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(again.plan.actions.contains { $0.machine == "gen10-box" && $0.kind == .updateFirmware }, "\(again.plan.text(color: false))")
    }

    @Test("the daemon's run queues the flashes and finishes without them; its workers flash, and /metrics counts them")
    func loopQueuesAndWorkersFlash() async throws {
        let lab = try await Lab(bmc: "bmc: {observe: true, jobWorkers: 2, pollInterval: 1s, firmwareTimeout: 2m}")
        defer { lab.images.stop() }
        let reconciler = lab.reconciler
        let store = try #require(try reconciler.openStore(creating: true))
        let metrics = ControllerMetrics()
        let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: metrics, logger: Logger(label: "test.loop"))
        defer { loop.jobs.stop() }
        await loop.runOnce(trigger: "start")
        let run = try #require(loop.status.lastRun)
        #expect(run.result == .converged, "\(loop.status.lastError ?? "")")
        #expect(run.message.contains("2 BMC jobs queued"), "\(run.message)")
        // The run was over before any flash was: a job is still going, or ended after the run
        // did (on a loaded machine a flash can end before this line runs; never before the run).
        let atRunEnd = try store.bmcJobs(states: nil, machine: nil, limit: 10)
        // (The jobs may end before the run's last steps on a busy machine: that the run does
        // not wait for them is BMCWatchTests' and the rollout bench's to show.)
        #expect(atRunEnd.count == 2 && atRunEnd.allSatisfy { ($0.startedAt ?? .distantFuture) >= run.startedAt }, "\(atRunEnd)")
        #expect(metrics.exposition().contains("dploy_bmc_jobs{"), "the gauge is exported")

        #expect(try await eventually(60) { try store.bmcJobs(states: [.succeeded], machine: nil, limit: 10).count == 2 })
        #expect(metrics.exposition().contains("dploy_bmc_jobs_finished_total{state=\"succeeded\"} 2"))
        let posts = (try await lab.simpleUpdates(lab.ilo5), try await lab.simpleUpdates(lab.ilo6))
        #expect(posts == (1, 1))
        let events = try store.events(for: MACAddress("52:54:00:00:02:01")!, limit: 20).map(\.kind)
        #expect(events.contains("job-queued") && events.contains("firmware-updated"), "\(events)")
    }

    @Test("a flash queued inside its window but taken by a worker after it closed is cancelled, not sent, and queued again when it opens")
    func claimedAfterTheWindowClosed() async throws {
        let tuesday = ManualClock(try Date("2026-12-08T02:40:00Z", strategy: .iso8601))
        // One worker: the second machine's flash waits in the queue while the first runs.
        let lab = try await Lab(bmc: "bmc: {observe: true, jobWorkers: 1, pollInterval: 1s, firmwareTimeout: 2h}",
                                rollout: "  rollout: {window: {days: [tue], from: \"02:00\", to: \"03:00\"}}", clock: tuesday.wallClock)
        defer { lab.images.stop() }
        let store = try #require(try lab.reconciler.openStore(creating: true))
        let loop = ReconcileLoop(reconciler: lab.reconciler, store: store, metrics: ControllerMetrics(), logger: Logger(label: "test.loop"))
        defer { loop.jobs.stop() }
        // gen10-box's flash request waits in its iLO until the window has closed: gen11-box's
        // job is still queued behind it then, however busy this machine is.
        _ = try await lab.ilo5.control("/_fixture/hold", .object([
            "method": .string("POST"), "path": .string("/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate")]))
        await loop.runOnce(trigger: "start")
        #expect(loop.status.lastRun?.message.contains("2 BMC jobs queued") == true, "\(loop.status)")
        #expect(try await eventually(30) { try store.bmcJobs(states: [.running], machine: "gen10-box", limit: 1).first?.submittedAt != nil })
        // 03:05: the window has closed while gen11-box's job waited for the worker.
        tuesday.advance(by: 25 * 60)
        _ = try await lab.ilo5.control("/_fixture/release", .object([:]))
        #expect(try await eventually(60) { try store.bmcJobs(states: nil, machine: nil, limit: 10).allSatisfy { !$0.state.isActive } })
        let jobs = Dictionary(try store.bmcJobs(states: nil, machine: nil, limit: 10).map { ($0.machine, $0) }) { first, _ in first }
        #expect(jobs["gen10-box"]?.state == .succeeded, "taken inside the window: it ran to its end: \(String(describing: jobs["gen10-box"]))")
        let cancelled = try #require(jobs["gen11-box"])
        #expect(cancelled.state == .cancelled && cancelled.error?.contains("outside its window (tue 02:00–03:00 UTC) now; it opens next at 2026-12-15T02:00:00Z") == true,
                "\(cancelled)")
        #expect(try await lab.simpleUpdates(lab.ilo6) == 0, "nothing was sent to its iLO")
        #expect(try store.events(for: cancelled.mac, limit: 10).contains { $0.kind == "job-cancelled" })

        // Outside the window the plan holds it, as for any flash; a cancellation is no failure.
        await loop.runOnce(trigger: "interval")
        #expect(try store.bmcJobs(states: nil, machine: "gen11-box", limit: 10).count == 1)
        #expect(loop.status.rollouts?.contains { $0.contains("halted") } == false)
        // The next Tuesday, 02:10: queued again, and flashed.
        tuesday.advance(by: 7 * 24 * 3600 - 55 * 60)
        await loop.runOnce(trigger: "interval")
        #expect(try await eventually(60) { try store.bmcJobs(states: [.succeeded], machine: "gen11-box", limit: 10).count == 1 })
        #expect(try await lab.simpleUpdates(lab.ilo6) == 1)
    }

    @Test("a rollout outside its window queues nothing, and the daemon's status says so and when it opens")
    func rolloutWindowInStatus() async throws {
        let monday = ManualClock(try Date("2026-12-07T12:00:00Z", strategy: .iso8601))
        let lab = try await Lab(bmc: "bmc: {observe: true}", rollout: "  rollout: {window: {days: [tue], from: \"02:00\", to: \"03:00\"}}",
                                clock: monday.wallClock)
        defer { lab.images.stop() }
        let store = try #require(try lab.reconciler.openStore(creating: true))
        let loop = ReconcileLoop(reconciler: lab.reconciler, store: store, metrics: ControllerMetrics(), logger: Logger(label: "test.loop"))
        defer { loop.jobs.stop() }
        await loop.runOnce(trigger: "start")
        #expect(loop.status.lastError == nil, "\(loop.status.lastError ?? "")")
        #expect(try store.bmcJobs(states: nil, machine: nil, limit: 10).isEmpty)
        #expect(loop.status.rollouts?.sorted() == [
            "rollout gen10-box-fw: outside its window (tue 02:00–03:00 UTC): nothing starts; it opens next at 2026-12-08T02:00:00Z",
            "rollout gen11-box-fw: outside its window (tue 02:00–03:00 UTC): nothing starts; it opens next at 2026-12-08T02:00:00Z",
        ])
        // Tuesday 02:30: both flash.
        monday.advance(by: 14.5 * 3600)
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.rollouts == [])
        #expect(try store.bmcJobs(states: nil, machine: nil, limit: 10).count == 2)
    }
}
