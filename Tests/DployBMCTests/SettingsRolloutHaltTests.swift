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

/// A Group's BIOS rollout halted while one of its writes still waits in the queue, against two
/// of HPE's recorded DL380a Gen11 trees (Fixtures/ilo_fixture.py --tree): one worker, two
/// writes queued, the first fails and halts the rollout (maxFailures 0), and the second,
/// claimed after it, is cancelled: its iLO's request log shows no PATCH until a resume.
@Suite("A halted rollout's queued job is cancelled at claim", .ownThread, .requires(.python3, .openssl), .requiresHPEMockups)
struct SettingsRolloutHaltTests {
    @Test("the second BIOS write of group/gpu, queued when the first failed, never reaches its iLO; dploy rollout resume sends it")
    func queuedWriteCancelledAfterHalt() async throws {
        let first = try ILOFixture(generation: 6, tree: HPEMockups.dl380aGen11), second = try ILOFixture(generation: 6, tree: HPEMockups.dl380aGen11)
        let folder = try TemporaryFolder(prefix: "dploy-rollout-halt")
        for sub in ["specs", "secrets"] {
            try FileManager.default.createDirectory(atPath: folder.file(sub), withIntermediateDirectories: true)
        }
        var specs = """
            apiVersion: dploy.org/v1
            kind: Group
            metadata: {name: gpu}
            spec:
              selector: {role: gpu}
              rollout: {maxFailures: 0}
              defaults:
                bios: {attributes: {ProcHyperthreading: Disabled}}

            """
        for (name, fixture, mac) in [("gpu-01", first, "52:54:00:00:06:01"), ("gpu-02", second, "52:54:00:00:06:02")] {
            try folder.write("secrets/\(name).yaml",
                             "username: \(fixture.username)\npassword: '\(fixture.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
            specs += """
                ---
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: \(name), labels: {role: gpu}}
                spec:
                  mac: "\(mac)"
                  bmc: {address: "\(fixture.baseURL)", credentials: \(name), fingerprint: "\(fixture.certificate.fingerprint)"}

                """
        }
        try folder.write("specs/fleet.yaml", specs, mode: 0o644)
        // One worker: gpu-02's write waits in the queue while gpu-01's runs.
        try folder.write("dploy.yaml", BMCLab.applyingConfig("bmc: {jobWorkers: 1}"), mode: 0o644)
        let reconciler = Reconciler(config: try ControllerConfig.load(path: folder.file("dploy.yaml")).get(), configPath: folder.file("dploy.yaml"))
        try reconciler.makeCallbackKey()
        let store = try #require(try reconciler.openStore(creating: true))
        let desired = try reconciler.loadDesired()
        let read = await reconciler.observeBMCs(desired.fleet)
        #expect(read.observations.allSatisfy { $0.error == nil }, "\(read.observations.compactMap(\.error))")

        // No canaries, no maxParallel: both writes are planned and queued at once.
        let result = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(result.plan.actions.filter { $0.kind == .setBIOSAttributes }.compactMap(\.machine) == ["gpu-01", "gpu-02"])
        let report = try reconciler.apply(result, fleet: desired.fleet, jobs: (store, nil))
        #expect(report.queuedJobs == ["gpu-01: bios (job 1)", "gpu-02: bios (job 2)"])

        // gpu-01's iLO refuses whatever it is asked next: its write fails, one more than maxFailures 0.
        try await first.control("/_fixture/fail-next", .object(["status": .number(400), "count": .number(50)]))
        func patches(_ fixture: ILOFixture) async throws -> Int {
            try await fixture.requests().count { $0["method"]?.string == "PATCH" }
        }
        let runner = reconciler.bmcJobRunner(store: store, fleet: { desired.fleet }, logger: Logger(label: "test.rollout-halt"), admitting: true)
        try runner.start()
        defer { runner.stop() }
        #expect(try await eventually(60) { try store.bmcJobs(states: nil, machine: nil, limit: 10).allSatisfy { !$0.state.isActive } })
        let jobs = Dictionary(try store.bmcJobs(states: nil, machine: nil, limit: 10).map { ($0.machine, $0) }) { newer, _ in newer }
        #expect(jobs["gpu-01"]?.state == .failed, "\(String(describing: jobs["gpu-01"]))")
        let cancelled = try #require(jobs["gpu-02"])
        #expect(cancelled.state == .cancelled && cancelled.error?.contains(
            "rollout group/gpu is halted: 1 failed, more than maxFailures 0 (gpu-01 (job 1)); `dploy rollout resume group/gpu` continues it") == true,
                "\(cancelled)")
        #expect(try await patches(second) == 0, "nothing was sent to gpu-02's iLO")

        // The plan holds it too, and says why; resumed, the next plan queues it and its iLO gets the PATCH.
        let halted = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(!halted.plan.actions.contains { $0.kind == .setBIOSAttributes }, "\(halted.plan.text(color: false))")
        #expect(halted.plan.notes.contains { $0.code == .rolloutHalted && $0.message.hasPrefix("rollout group/gpu halted: 1 failed") })
        try store.resumeRollout("group/gpu", at: Date())
        let resumed = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(resumed.plan.actions.filter { $0.kind == .setBIOSAttributes }.compactMap(\.machine) == ["gpu-02"], "\(resumed.plan.text(color: false))")
        _ = try reconciler.apply(resumed, fleet: desired.fleet, jobs: (store, nil))
        runner.wake()
        #expect(try await eventually(60) { try store.bmcJobs(states: [.succeeded], machine: "gpu-02", limit: 1).count == 1 })
        #expect(try await patches(second) == 1)
    }
}
