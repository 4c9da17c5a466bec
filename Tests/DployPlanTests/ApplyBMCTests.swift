import DployApply
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Records what the applier asked of the BMCs; fails the machines it is told to.
final class RecordingBMC: BMCActions {
    var calls: [String] = []
    var failing: Set<String> = []

    func bootOnceFromNetwork(machine: String) throws {
        if failing.contains(machine) { throw ApplyError.io(machine, "BMC unreachable") }
        calls.append("\(machine) boot-once")
    }

    func power(machine: String, _ action: PowerAction) throws {
        if failing.contains(machine) { throw ApplyError.io(machine, "BMC unreachable") }
        calls.append("\(machine) \(action.rawValue)")
    }

    func updateFirmware(machine: String, _ target: FirmwareTarget) throws {
        if failing.contains(machine) { throw ApplyError.io(machine, "BMC unreachable") }
        calls.append("\(machine) firmware \(target.component) \(target.version) \(target.image)")
    }

    func setBIOSAttributes(machine: String, _ changes: [BIOSChange], ifMatch: String?) throws {
        if failing.contains(machine) { throw ApplyError.io(machine, "BMC unreachable") }
        calls.append("\(machine) bios " + changes.map { "\($0.name)=\($0.desired)" }.joined(separator: ","))
    }
}

/// BMC access written before firmware steps existed: it relies on the protocol's default.
struct PowerOnlyBMC: BMCActions {
    func bootOnceFromNetwork(machine: String) throws {}
    func power(machine: String, _ action: PowerAction) throws {}
}

@Suite("Apply with BMC access", .ownThread)
struct ApplyBMCTests {
    /// The lab applied once, then web-02 due for a reinstall and web-01 found off.
    func reinstallAndDrift() throws -> (LabCopy, Reconciler, PlanResult) {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        var observed = try reconciler.observe()
        observed.installedGenerations[try #require(MACAddress("94:18:82:3a:5c:2e"))] = 0
        observed.power[try #require(MACAddress("94:18:82:3a:5c:10"))] = .off
        let result = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings)
        return (lab, reconciler, result)
    }

    @Test("BMC steps run after the files, in plan order: boot once then cycle for a reinstall, on for drift")
    func runsBMCSteps() throws {
        let (_, reconciler, result) = try reinstallAndDrift()
        let bmc = RecordingBMC()
        let report = try Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil).apply(result, bmc: bmc)
        #expect(bmc.calls.sorted() == ["web-01 on", "web-02 boot-once", "web-02 cycle"])
        #expect(bmc.calls.firstIndex(of: "web-02 boot-once")! < bmc.calls.firstIndex(of: "web-02 cycle")!)
        #expect(report.bmcSteps.count == 3)
    }

    @Test("A machine whose BMC fails skips its later steps; the others still run; the error names it")
    func oneMachineFails() throws {
        let (_, reconciler, result) = try reinstallAndDrift()
        let bmc = RecordingBMC()
        bmc.failing = ["web-02"]
        let error = #expect(throws: ApplyError.self) {
            try Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil).apply(result, bmc: bmc)
        }
        #expect(bmc.calls == ["web-01 on"], "no power cycle for web-02 after its boot-once failed")
        #expect(error?.description.contains("web-02") == true)
    }
}

@Suite("Firmware drift", .ownThread)
struct FirmwareDriftTests {
    func plan(web01 firmware: ObservedFirmware) throws -> MachinePlan? {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        var observed = try reconciler.observe()
        observed.firmware[try #require(MACAddress("94:18:82:3a:5c:10"))] = firmware
        let result = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings)
        return result.plan.machines.first { $0.machine == "web-01" }
    }

    @Test("A component below the baseline plans one firmware step; iLO's dated versions match the baseline's")
    func drift() throws {
        let web = try #require(try plan(web01: ObservedFirmware(model: "ProLiant DL360 Gen10", versions: [
            "System ROM": "U32 v2.80 (01/11/2024)", "iLO 5": "3.08 Oct 01 2026", "Power Management Controller Firmware": "1.1.0",
        ])))
        #expect(web.actions.filter { $0.kind == .updateFirmware }.map(\.line) == ["bmc     firmware System ROM U32 v2.80 (01/11/2024) → U32 v2.90"])
        #expect(web.reasons == [Reason(.firmwareDrift, "firmware: System ROM U32 v2.80 (01/11/2024) → U32 v2.90 (baseline gen10-2026-10)")])
    }

    @Test("Versions as the baseline wants plan nothing; a model the baseline does not list is left alone")
    func noDrift() throws {
        #expect(try plan(web01: ObservedFirmware(model: "ProLiant DL360 Gen10",
                                                 versions: ["System ROM": "U32 v2.90 (01/11/2024)", "iLO 5": "3.08 Oct 01 2026"])) == nil)
        #expect(try plan(web01: ObservedFirmware(model: "ProLiant DL20 Gen10",
                                                 versions: ["System ROM": "U32 v2.80 (01/11/2024)"])) == nil)
    }

    @Test("Apply runs firmware steps through the BMC access with the plan's image; access without firmware support fails the step by name")
    func applyRunsFirmware() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        var observed = try reconciler.observe()
        observed.firmware[try #require(MACAddress("94:18:82:3a:5c:10"))] = ObservedFirmware(
            model: "ProLiant DL360 Gen10", versions: ["iLO 5": "2.96 Aug 17 2023"])
        let result = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings)
        let step = try #require(result.plan.actions.first { $0.kind == .updateFirmware })
        guard case .updateFirmware(_, let firmware, let reason) = step else { Issue.record("not a firmware step: \(step)"); return }
        #expect(firmware.component == "iLO 5" && firmware.installed == "2.96 Aug 17 2023" && reason.code == .firmwareDrift)
        #expect(firmware.image.hasSuffix(".fwpkg") == true && firmware.sha256.count == 64)

        let applier = Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil)
        #expect(throws: ApplyError.needsBMC(["web-01"])) { try applier.apply(result) }
        let bmc = RecordingBMC()
        let report = try applier.apply(result, bmc: bmc)
        #expect(bmc.calls == ["web-01 firmware iLO 5 \(firmware.version) \(firmware.image)"])
        #expect(report.bmcSteps == ["web-01: firmware iLO 5 \(firmware.version)"])

        let refused = #expect(throws: ApplyError.self) { try applier.apply(result, bmc: PowerOnlyBMC()) }
        #expect(refused?.description.contains("web-01: this BMC access cannot update firmware (iLO 5)") == true, "\(String(describing: refused))")
    }
}
