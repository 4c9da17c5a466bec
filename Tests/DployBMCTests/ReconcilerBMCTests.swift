import DployBMC
import DployConfig
import DployInventory
import Logging
import DployController
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// The controller's side: a lab config with specs and a secret, observed into
/// `ObservedState.power` and driven through `FleetBMC`, the applier's BMC access.
@Suite("Reconciler and BMCs, against sushy-tools", .ownThread, .requires(.sushyEmulator, .openssl, .curl))
struct ReconcilerBMCTests {
    @Test("observeBMCs reports power by MAC, leaving out an unreachable BMC; FleetBMC boots once from PXE and cycles")
    func observeAndDrive() async throws {
        let bmc = try await SushyEmulator(systems: 2)
        let down = try HeldPort()
        defer { withExtendedLifetime(down) {} }  // held until the test ends, not its last use
        // Credentials and the CA (relative to the config's folder) come from a group.
        let lab = try BMCLab(bmc, specs: BMCLab.rackGroup()
            + BMCLab.machine("node-0", mac: "52:54:00:00:00:10", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[0])", rack: true)
            + BMCLab.machine("node-1", mac: "52:54:00:00:00:11", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[1])", rack: true)
            + BMCLab.machine("node-gone", mac: "52:54:00:00:00:12", address: "https://127.0.0.1:\(down.port)", rack: true))
        try lab.trustCA(of: bmc)
        try await bmc.ready()
        let config: ControllerConfig
        switch ControllerConfig.load(path: lab.config) {
        case .success(let loaded): config = loaded
        case .failure(let error): Issue.record("\(error.diagnostics)"); return
        }
        let reconciler = Reconciler(config: config, configPath: lab.config)
        #expect(config.bmcConcurrency == 2, "bmc: {concurrency: 2} in dploy.yaml")
        let fleet = try reconciler.loadDesired().fleet

        let read = await reconciler.observeBMCs(fleet, concurrency: 4)
        let (power, firmware, observations) = (read.power, read.firmware, read.observations)
        #expect(firmware.isEmpty, "no firmware baselines here")
        #expect(observations.count == 3)
        #expect(power == [try #require(MACAddress("52:54:00:00:00:10")): .off, try #require(MACAddress("52:54:00:00:00:11")): .off])
        #expect(observations.first { $0.machine == "node-gone" }?.error?.kind == .unreachable)

        let actions = reconciler.bmcActions(for: fleet)
        try actions.bootOnceFromNetwork(machine: "node-0")
        try actions.power(machine: "node-0", .cycle)  // off, so a cycle turns it on
        let client = RedfishClient(endpoint: try bmc.endpoint(system: 0), options: quickOptions())
        #expect(try await client.system().bootOverrideTarget == "Pxe")
        try await client.waitForPower(.on, timeout: .seconds(40), interval: .milliseconds(250))
        #expect(throws: BMCError.self) { try actions.power(machine: "node-gone", .on) }
    }
}

/// The daemon's loop with `bmc: {observe: true}`: it reads power, plans the drift, and
/// applies it through the BMC, as an operator's `power: "on"` asks.
@Suite("The reconcile loop and BMCs, against sushy-tools", .ownThread, .requires(.sushyEmulator, .openssl, .curl))
struct ReconcileLoopBMCTests {
    @Test("power drift is observed, planned and corrected; the BMC metrics count the reads")
    func powerDrift() async throws {
        let bmc = try await SushyEmulator(systems: 1)
        let lab = try BMCLab(bmc, specs: BMCLab.rackGroup(defaults: "power: \"on\", ")
            + BMCLab.machine("node-0", mac: "52:54:00:00:00:10", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[0])", rack: true))
        try lab.trustCA(of: bmc)
        try lab.folder.write("dploy.yaml", BMCLab.applyingConfig("bmc: {concurrency: 2, observe: true}"), mode: 0o644)
        try await bmc.ready()
        let config = try ControllerConfig.load(path: lab.config).get()
        let reconciler = Reconciler(config: config, configPath: lab.config, keepingCaches: true)
        let metrics = ControllerMetrics()
        let loop = ReconcileLoop(reconciler: reconciler, store: try #require(try reconciler.openStore(creating: true)),
                                 metrics: metrics, logger: Logger(label: "test"))
        let beforeRun = Date()
        await loop.runOnce(trigger: "start")
        let afterRun = Date()
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status.lastError ?? "")")
        let client = RedfishClient(endpoint: try bmc.endpoint(system: 0), options: quickOptions())
        try await client.waitForPower(.on, timeout: .seconds(40), interval: .milliseconds(250))
        #expect(metrics.exposition().contains("dploy_bmc_requests_total 1"))
        #expect(metrics.exposition().contains("dploy_bmc_errors_total 0"))
        let store = try #require(try reconciler.openStore(creating: false))
        let mac = try #require(MACAddress("52:54:00:00:00:10"))
        let events = try store.events(for: mac, limit: 5)
        #expect(events.contains { $0.message.contains("power drift: observed off, desired on") }, "\(events)")
        // The reading is kept, with its time: the web page and /v1/machines show it.
        let reading = try #require(try store.bmcReadings()[mac])
        #expect(reading.power == "Off", "as read before the drift was corrected")
        #expect(reading.error == nil)
        // Read during the run (the store keeps the time to the millisecond, rounded).
        #expect(reading.readAt >= beforeRun.addingTimeInterval(-0.001) && reading.readAt <= afterRun.addingTimeInterval(0.001),
                "\(reading.readAt) is not between \(beforeRun) and \(afterRun)")
        let row = MachineOverview.rows(fleet: try reconciler.loadDesired().fleet, observed: try store.machines(),
                                       bmcReadings: try store.bmcReadings()).first { $0.name == "node-0" }
        #expect(row?.power == "Off")
    }
}
