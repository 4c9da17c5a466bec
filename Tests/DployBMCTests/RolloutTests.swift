@testable import DployBMC
import DployConfig
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Logging
import Testing

/// A FirmwareBaseline rolled out over 200 emulated iLO 5s (one fixture process, flashes of a
/// second each), driven the way the daemon drives it: read the BMCs, plan, apply (queue
/// jobs), let the workers flash, again. The clock is the test's. Everything asserted about
/// order and parallelism is read from the iLOs' own request logs.
@Suite("Firmware rollouts at fleet scale", .ownThread, .requires(.python3, .openssl))
struct RolloutTests {
    static let machines = 200, maxParallel = 40, updateSeconds = 1.0
    /// Machines whose flashes fail, both in wave 2: with maxFailures 1, the second halts it.
    static let failing = [30, 40]

    @Test("canaries first, waves in turn, at most maxParallel at once, halted after maxFailures, nothing outside the window, a restart posts nothing twice")
    func rollout() async throws {
        let ilos = try ILOFleetFixture(count: Self.machines, updateSeconds: Self.updateSeconds, flashTo: "iLO 5=3.08 Nov 01 2026")
        defer { ilos.stop() }
        for index in Self.failing { try ilos.failUpdates(index) }
        let fleetLab = try await FleetLab(ilos, prefix: "dploy-rollout")
        defer { fleetLab.stop() }
        let lab = fleetLab.folder
        var specs = fleetLab.baseline("""
              rollout:
                canaries: 2
                waves: ["10%", "50%", "100%"]
                maxParallel: \(Self.maxParallel)
                maxFailures: 1
                window: {days: [tue, thu], from: "02:00", to: "06:00", timezone: UTC}
            """)
        for index in 0..<Self.machines {
            specs += fleetLab.machine(index, name: Self.name(index), extra: "  firmware: gen10")
        }
        try lab.write("specs/fleet.yaml", specs, mode: 0o644)
        try lab.write("dploy.yaml", BMCLab.applyingConfig("bmc: {concurrency: 64, jobWorkers: 64, firmwareTimeout: 5m}"), mode: 0o644)
        // Monday 12:00 UTC: outside the window (Tuesdays and Thursdays, 02:00 to 06:00).
        let clock = ManualClock(try Date("2026-12-07T12:00:00Z", strategy: .iso8601))
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.file("dploy.yaml")).get(), configPath: lab.file("dploy.yaml"),
                                    clock: clock.wallClock)
        try reconciler.makeCallbackKey()
        let store = try #require(try reconciler.openStore(creating: true))
        let desired = try reconciler.loadDesired()
        var quiet = Logger(label: "test.rollout")
        quiet.logLevel = .warning
        var settings = BMCJobRunner.Settings(workers: 64)
        settings.pollInterval = .milliseconds(200)
        settings.idlePoll = .milliseconds(200)
        func runner() -> BMCJobRunner {
            BMCJobRunner(store: store, settings: settings,
                         access: { BMCJobAccess(fleet: desired.fleet, secrets: reconciler.secretStore, baseDirectory: reconciler.bmcBaseDirectory) },
                         logger: quiet, clock: clock.wallClock)
        }
        var workers = runner()
        try workers.start()
        defer { workers.stop() }

        /// One reconcile as the daemon does it: read, plan, queue. Returns the plan and the jobs it queued.
        func reconcile() async throws -> (plan: Plan, queued: [String]) {
            let read = await reconciler.observeBMCs(desired.fleet)
            let result = try reconciler.plan(desired: desired, store: store, bmc: read)
            let report = try reconciler.apply(result, fleet: desired.fleet, jobs: (store, workers))
            return (result.plan, report.queuedJobs.map { String($0.prefix { $0 != ":" }) })
        }
        func notes(_ plan: Plan, _ code: Reason.Code) -> [String] { plan.notes.filter { $0.code == code }.map(\.message) }

        // Outside the window: nothing queued, and the plan says when it opens.
        let closed = try await reconcile()
        #expect(closed.queued.isEmpty)
        #expect(notes(closed.plan, .rolloutWindowClosed) == ["rollout gen10: outside its window (tue, thu 02:00–06:00 UTC): nothing starts; it opens next at 2026-12-08T02:00:00Z"])
        #expect(notes(closed.plan, .rolloutPhase).count == 4)
        #expect(notes(closed.plan, .rolloutPhase).first?.hasPrefix("rollout gen10, canaries: node-000, node-001: under way: 0 of 2 done") == true)
        #expect(notes(closed.plan, .rolloutPhase)[1].hasPrefix("rollout gen10, wave 1 (10%): node-002, node-003,") == true)
        #expect(notes(closed.plan, .rolloutPhase)[1].hasSuffix(": after canaries finish and report the baseline's versions") == true)

        // Tuesday 02:00: the canaries, and only they.
        clock.advance(by: 14 * 3600)
        let first = try await reconcile()
        #expect(first.queued == ["node-000", "node-001"])

        // Reconcile until it halts, restarting the workers once in the middle of wave 1.
        var restarted = false, halted: Plan?
        for _ in 0..<40 {
            #expect(workers.waitUntilIdle(timeout: .seconds(60)))
            let step = try await reconcile()
            if !notes(step.plan, .rolloutHalted).isEmpty { halted = step.plan; break }
            if !restarted, step.queued.contains(where: { $0 > "node-001" }) {
                // The plan that starts wave 1 says the canaries are done and names who starts now.
                let phases = notes(step.plan, .rolloutPhase)
                #expect(phases.first == "rollout gen10, canaries: node-000, node-001: done", "\(phases.first ?? "")")
                #expect(phases.count == 4 && phases[1].contains(": under way: 0 of 20 done; starting now: node-002, node-003,"), "\(phases[1].suffix(120))")
                // Stop while those flash, as a daemon that restarts; a new pool resumes them.
                #expect(try await eventually(30) { try store.bmcJobs(states: [.running], machine: nil, limit: 500).contains { $0.tracking != nil } })
                workers.stop()
                workers = runner()
                try workers.start()
                restarted = true
            }
        }
        #expect(restarted)
        let haltNote = try #require(halted.map { notes($0, .rolloutHalted) }?.first)
        #expect(haltNote.hasPrefix("rollout gen10 halted: 2 failed, more than maxFailures 1: node-030 (job "), "\(haltNote)")
        #expect(haltNote.contains("node-040 (job ") && haltNote.hasSuffix("`dploy rollout resume gen10` or the baseline changes the version a failed flash installs"))
        // Halted: another run queues nothing.
        #expect(workers.waitUntilIdle(timeout: .seconds(60)))
        #expect(try await reconcile().queued.isEmpty)

        // Resumed at Tuesday 07:00, outside the window: still nothing; Thursday 02:00: on to the end.
        try store.resumeRollout("gen10", at: clock.now)
        clock.advance(by: 5 * 3600)
        let resumedOutside = try await reconcile()
        #expect(resumedOutside.queued.isEmpty && !notes(resumedOutside.plan, .rolloutWindowClosed).isEmpty)
        #expect(notes(resumedOutside.plan, .rolloutHalted).isEmpty, "the resume forgave the two failures")
        clock.advance(by: 43 * 3600)
        var finished: Plan?
        for _ in 0..<40 {
            #expect(workers.waitUntilIdle(timeout: .seconds(60)))
            let step = try await reconcile()
            if step.queued.isEmpty && notes(step.plan, .rolloutPhase).isEmpty {
                finished = step.plan
                break
            }
        }
        // Over: no phase note any more, and the two failed machines keep theirs, not flashed again.
        let last = try #require(finished)
        #expect(notes(last, .bmcJobFailed).count == 2 && notes(last, .rolloutHalted).isEmpty)

        // What the iLOs saw.
        let logs = try ilos.logs()
        var posts: [(index: Int, at: Double)] = []
        for (index, port) in ilos.ports.enumerated() {
            let times = (logs[port] ?? []).filter {
                $0["method"]?.string == "POST" && $0["path"]?.string?.lowercased().contains("simpleupdate") == true
            }.compactMap { $0["t"]?.double }
            #expect(times.count == 1, "\(Self.name(index)) was asked \(times.count) times")
            posts += times.map { (index, $0) }
        }
        #expect(posts.count == Self.machines)
        func phase(_ index: Int) -> Int { index < 2 ? 0 : index < 22 ? 1 : index < 101 ? 2 : 3 }
        for later in 1...3 {
            let before = posts.filter { phase($0.index) == later - 1 }.map(\.at).max() ?? 0
            let after = posts.filter { phase($0.index) == later }.map(\.at).min() ?? 0
            #expect(before + Self.updateSeconds <= after, "phase \(later) started only after phase \(later - 1) had finished")
        }
        var edges: [(time: Double, change: Int)] = []
        for post in posts {
            edges.append((post.at, 1))
            edges.append((post.at + Self.updateSeconds, -1))
        }
        edges.sort { a, b in a.time != b.time ? a.time < b.time : a.change < b.change }
        var flashing = 0, most = 0
        for edge in edges {
            flashing += edge.change
            most = max(most, flashing)
        }
        #expect(most <= Self.maxParallel, "at most maxParallel flashes at once, saw \(most)")
        let failed = try store.bmcJobs(states: [.failed], machine: nil, limit: 500).map(\.machine).sorted()
        #expect(failed == Self.failing.map(Self.name))
        print("rollout of \(Self.machines) BMCs: most at once \(most) (maxParallel \(Self.maxParallel)), failed \(failed)")
    }

    static func name(_ index: Int) -> String { "node-" + String(format: "%03d", index) }
}
