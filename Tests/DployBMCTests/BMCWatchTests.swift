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
@Suite("BMC readings apart from the reconcile, against sushy-tools", .ownThread, .requires(.sushyEmulator, .openssl, .curl, .python3))
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
        loop.trigger()
        // The run that loaded node-1 wrote its boot file. (Runs before it and after it, woken
        // by the watch's news, may end either side of it: the last run is not necessarily it.)
        let node1BootFile = lab.folder.file("out/http/ipxe/52-54-00-00-00-11.ipxe")
        #expect(try await eventually(30) {
            loop.desired?.fleet.machine(named: "node-1") != nil && FileManager.default.fileExists(atPath: node1BootFile)
        }, "\(loop.status)")
        // The run is over; the watch reads node-1 (at once, or a moment later on a busy
        // machine), and that read has not ended: the run did not wait for it.
        #expect(try await eventually(30) { ((try? String(contentsOfFile: accepted, encoding: .utf8)) ?? "").contains("accepted") },
                "the watch reads node-1")
        #expect(loop.bmcWatch.isDue("node-1"), "its read has not ended: node-1 is still left out of plans")
        #expect(try store.bmcReadings()[MACAddress("52:54:00:00:00:11")!] == nil, "nothing read of node-1 yet")
    }

    @Test("a daemon starting while a BMC hangs runs its first plan without waiting for it: its boots are answered, the BMC is read after")
    func firstRunDoesNotWaitForAHungBMC() async throws {
        let bmc = try await SushyEmulator(systems: 1)
        let scratch = try TemporaryFolder(prefix: "dploy-silent")
        let silent = try SilentBMC(accepted: scratch.file("accepted"))
        defer { silent.child.stop() }
        let lab = try BMCLab(bmc, specs: BMCLab.rackGroup(defaults: "power: \"on\", ")
            + BMCLab.machine("node-0", mac: "52:54:00:00:00:10", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[0])", rack: true)
            + BMCLab.machine("node-1", mac: "52:54:00:00:00:11", address: "https://127.0.0.1:\(silent.port)", rack: true))
        try lab.trustCA(of: bmc)
        try lab.folder.write("dploy.yaml", BMCLab.applyingConfig("interval: 1h\nbmc: {concurrency: 2, observe: true}"), mode: 0o644)
        try await bmc.ready()
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.config).get(), configPath: lab.config, keepingCaches: true)
        let store = try #require(try reconciler.openStore(creating: true))
        let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: ControllerMetrics(), logger: Logger(label: "test.watch"),
                                 bmcFirstRoundWait: .seconds(2))
        let started = ContinuousClock.now
        let running = Task { try await loop.run() }
        defer { running.cancel() }
        // The hung BMC's read takes its timeouts and retries (about 25 s); the first run
        // waits 2 s for it, then plans without the BMCs not read yet and writes the boot files.
        // Bounded below the hung read's 25 s, not near the 2 s wait: a loaded machine (two
        // builds beside the suite) took 15.3 s to plan and write.
        #expect(try await eventually(20) { loop.status.runs >= 1 }, "\(loop.status)")
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status)")
        #expect(loop.desired != nil, "the first run's desired state is in force")
        #expect(loop.bmcWatch.isDue("node-1"), "its read has not ended")
        #expect(try await eventually(30) { ((try? String(contentsOfFile: scratch.file("accepted"), encoding: .utf8)) ?? "").contains("accepted") })
        // The watch's round ends by itself: node-0 is read (and powered on by the run it wakes).
        let mac = try #require(MACAddress("52:54:00:00:00:10"))
        #expect(try await eventually(90) { try store.bmcReadings()[mac]?.power == "On" }, "\(loop.status)")
    }

    @Test("a BMC that takes power-on but stays off is asked again at the next run, not in a loop of reads and runs")
    func stuckPowerDoesNotSpin() async throws {
        let ilo = try ILOFixture(generation: 5)
        try await ilo.control("/_fixture/stuck-power", .object(["PowerState": .string("Off")]))
        let folder = try TemporaryFolder(prefix: "dploy-stuck")
        for sub in ["specs", "secrets"] { try FileManager.default.createDirectory(atPath: folder.file(sub), withIntermediateDirectories: true) }
        try folder.write("secrets/ilo.yaml", "username: \(ilo.username)\npassword: '\(ilo.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
        try folder.write("specs/fleet.yaml", """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: dead-psu}
            spec:
              mac: "52:54:00:00:30:01"
              power: "on"
              bmc: {address: "\(ilo.baseURL)", credentials: ilo, fingerprint: "\(ilo.certificate.fingerprint)"}

            """, mode: 0o644)
        try folder.write("dploy.yaml", BMCLab.applyingConfig("interval: 1h\nbmc: {observe: true}"), mode: 0o644)
        let config = folder.file("dploy.yaml")
        let reconciler = Reconciler(config: try ControllerConfig.load(path: config).get(), configPath: config, keepingCaches: true)
        let store = try #require(try reconciler.openStore(creating: true))
        let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: ControllerMetrics(), logger: Logger(label: "test.watch"))
        let running = Task { try await loop.run() }
        defer { running.cancel() }
        func resets() async throws -> Int {
            try await ilo.requests().count { $0["method"]?.string == "POST" && $0["path"]?.string?.lowercased().contains("computersystem.reset") == true }
        }
        for _ in 0..<300 where try await resets() == 0 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try await resets() >= 1, "\(loop.status)")
        // The watch reads it again at once (Off, as before the request): no news, so no run
        // asks again until the next interval or commit.
        #expect(try await eventually(30) { !loop.bmcWatch.isDue("dead-psu") })
        try await Task.sleep(for: .seconds(3))
        #expect(try await resets() == 1, "asked once, not in a loop: \(loop.status)")
        // The first run, the one the first round's news starts, the one the job's end starts.
        #expect(loop.status.runs <= 3, "\(loop.status)")
    }
}
