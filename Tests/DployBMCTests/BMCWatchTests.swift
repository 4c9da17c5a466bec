@testable import DployBMC
import DployConfig
@testable import DployController
import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Logging
import Testing

/// The daemon reads its BMCs on a task of its own (`BMCWatch`): runs plan from the latest
/// readings and never wait on a BMC, a machine acted on is read again at once, and a reading
/// that changes what the planner sees wakes a run.
@Suite("BMC readings apart from the reconcile, against sushy-tools", .requires(.sushyEmulator, .openssl, .curl, .python3))
struct BMCWatchTests {
    /// A "BMC" that takes connections and never answers, as a hung iLO does: it writes one
    /// line to `accepted` per connection it holds.
    final class SilentBMC {
        let child: ChildProcess
        let port: Int
        init(accepted: String) throws {
            child = try ChildProcess(try Tool.python3.require(), ["-c", """
                import socket, sys
                s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
                print(s.getsockname()[1], flush=True)
                held = []
                while True:
                    c, _ = s.accept(); held.append(c)
                    with open(sys.argv[1], "a") as f: f.write("accepted\\n")
                """, accepted])
            port = Int(child.firstLine()) ?? 0
        }
    }

    @Test("a power step's machine is read again without a run, its new reading wakes one; a run does not wait on a BMC that hangs")
    func readsApartFromRuns() async throws {
        let bmc = try await SushyEmulator(systems: 1)
        let node0 = BMCLab.machine("node-0", mac: "52:54:00:00:00:10", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[0])", rack: true)
        let lab = try BMCLab(bmc, specs: BMCLab.rackGroup(defaults: "power: \"on\", ") + node0)
        try lab.trustCA(of: bmc)
        // interval 1h: every run after the first is one the test or the watch asked for.
        try lab.folder.write("dploy.yaml", BMCLab.applyingConfig("interval: 1h\nbmc: {concurrency: 2, observe: true}"), mode: 0o644)
        try await bmc.ready()
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.config).get(), configPath: lab.config, keepingCaches: true)
        let store = try #require(try reconciler.openStore(creating: true))
        let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: ControllerMetrics(), logger: Logger(label: "test.watch"))
        let running = Task { try await loop.run() }
        defer { running.cancel() }

        // The first run reads the BMC (off), powers it on, and the watch reads it again by
        // itself: the store has "On", and the news woke a second run, which changed nothing.
        let mac = try #require(MACAddress("52:54:00:00:00:10"))
        #expect(try await eventually(60) { try store.bmcReadings()[mac]?.power == "On" }, "\(loop.status) \((try? store.bmcJobs(states: nil, machine: nil, limit: 5)) ?? []) \((try? store.events(for: mac, limit: 10)) ?? [])")
        #expect(try await eventually(30) { loop.status.runs >= 2 && loop.status.lastRun?.result == .unchanged }, "\(loop.status)")
        #expect(try store.events(for: mac, limit: 10).contains { $0.message.contains("power drift: observed off, desired on") })
        #expect(!loop.bmcWatch.isDue("node-0"))

        // A machine whose BMC hangs joins the fleet: the run that loads it does not wait on
        // it (it plans nothing for it yet), while the watch's read of it is still held open.
        let accepted = lab.folder.file("accepted")
        let silent = try SilentBMC(accepted: accepted)
        defer { silent.child.stop() }
        try lab.folder.write("specs/machines.yaml", BMCLab.rackGroup(defaults: "power: \"on\", ") + node0
            + BMCLab.machine("node-1", mac: "52:54:00:00:00:11", address: "https://127.0.0.1:\(silent.port)", rack: true), mode: 0o644)
        let runsBefore = loop.status.runs
        loop.trigger()
        #expect(try await eventually(30) { loop.status.runs > runsBefore }, "\(loop.status)")
        // The run is over; the watch reads node-1 (at once, or a moment later on a busy
        // machine), and that read has not ended: the run did not wait for it.
        #expect(try await eventually(30) { ((try? String(contentsOfFile: accepted, encoding: .utf8)) ?? "").contains("accepted") },
                "the watch reads node-1")
        #expect(loop.bmcWatch.isDue("node-1"), "its read has not ended: node-1 is still left out of plans")
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status)")
        #expect(try store.bmcReadings()[MACAddress("52:54:00:00:00:11")!] == nil, "nothing read of node-1 yet")
    }
}
