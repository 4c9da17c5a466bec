import DployApply
import DployController
import DployPlan
import DploySpec
import Foundation
import Testing

/// `bios.attributes` × the BIOS the BMC reported, planned on the example lab (web-01 has a
/// BMC), without a BMC: the planner is pure, the applier takes any `BMCActions`.
@Suite("BIOS drift")
struct BIOSDriftTests {
    static let web01 = MACAddress("94:18:82:3a:5c:10")!

    /// Gives web-01 a `bios:` block (the lines below it, indented for a machine's spec).
    static func addBIOS(to lab: LabCopy, _ lines: String) throws {
        let file = "machines/rack-r1.yaml"
        let marker = "  hostname: web-01.lab.example.net\n"
        let text = try lab.read(file)
        #expect(text.contains(marker))
        try lab.write(file, text.replacingOccurrences(of: marker, with: marker + "  bios:\n" + lines + "\n"))
    }

    /// The lab applied once, then web-01 given `lines` as its BIOS block; the observed state
    /// as the apply left it, with `bios` as web-01's reading when given.
    func lab(_ lines: String, _ bios: ObservedBIOS?) throws -> (lab: LabCopy, reconciler: Reconciler, desired: DesiredState, observed: ObservedState) {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        try Self.addBIOS(to: lab, lines)
        var observed = try reconciler.observe()
        observed.bios[Self.web01] = bios
        return (lab, reconciler, try lab.reconciler().loadDesired(), observed)
    }

    func plan(_ lines: String, _ bios: ObservedBIOS?) throws -> Result<Plan, PlanError> {
        let (lab, reconciler, desired, observed) = try lab(lines, bios)
        // The lab's folder (and the callback key in it) goes when `lab` does: keep it.
        let settings = try withExtendedLifetime(lab) { try reconciler.settings }
        return Result { () throws(PlanError) in try Planner.plan(desired: desired, observed: observed, settings: settings).plan }
    }

    static let recorded = ObservedBIOS(current: ["ProcHyperthreading": .string("Enabled"), "NetworkBootRetryCount": .integer(20),
                                                 "Sriov": .string("Enabled"), "WorkloadProfile": .string("GeneralPowerEfficientCompute")],
                                       pending: ["ProcHyperthreading": .string("Enabled"), "NetworkBootRetryCount": .integer(20),
                                                 "Sriov": .string("Enabled"), "WorkloadProfile": .string("GeneralPowerEfficientCompute")])

    @Test("Drift is one step with a line per attribute; attributes already as desired are not sent")
    func drift() throws {
        let plan = try plan("    attributes: {ProcHyperthreading: Disabled, NetworkBootRetryCount: 3, Sriov: Enabled}", Self.recorded).get()
        let web = try #require(plan.machines.first { $0.machine == "web-01" })
        let steps = web.actions.filter { $0.kind == .setBIOSAttributes }
        #expect(steps == [.setBIOSAttributes(machine: "web-01", [
            BIOSChange(name: "NetworkBootRetryCount", current: .integer(20), desired: .integer(3)),
            BIOSChange(name: "ProcHyperthreading", current: .string("Enabled"), desired: .string("Disabled")),
        ], reason: Reason(.biosDrift, "2 BIOS attributes differ"))])
        #expect(web.reasons.map(\.code) == [.biosDrift])
        let text = plan.text(color: false)
        #expect(text.contains("bmc     bios NetworkBootRetryCount: 20 → 3\n"), "\(text)")
        #expect(text.contains("bmc     bios ProcHyperthreading: Enabled → Disabled\n"), "\(text)")
        #expect(!text.contains("Sriov"))
    }

    @Test("Pending values equal to the desired ones: nothing planned, a note says they apply at next reboot")
    func pending() throws {
        var bios = Self.recorded
        bios.pending?["ProcHyperthreading"] = .string("Disabled")
        let plan = try plan("    attributes: {ProcHyperthreading: Disabled}", bios).get()
        #expect(plan.machines.first { $0.machine == "web-01" } == nil)
        #expect(plan.notes.contains(Reason(.biosPendingReboot,
                                           "web-01: BIOS ProcHyperthreading: Enabled → Disabled pending: applies at next reboot")), "\(plan.notes)")
        #expect(plan.text(color: false).contains("note: web-01: BIOS ProcHyperthreading: Enabled → Disabled pending: applies at next reboot"))
    }

    @Test("A pending value that would undo a desired current one is planned back; after the reboot nothing is left")
    func pendingUndoes() throws {
        var bios = Self.recorded
        bios.pending?["Sriov"] = .string("Disabled")
        let undo = try plan("    attributes: {Sriov: Enabled}", bios).get()
        #expect(undo.actions.filter { $0.kind == .setBIOSAttributes }.count == 1)
        let settled = try plan("    attributes: {Sriov: Enabled}", Self.recorded).get()
        #expect(settled.machines.first { $0.machine == "web-01" } == nil)
        #expect(!settled.notes.contains { $0.code == .biosPendingReboot })
    }

    @Test("An attribute the BIOS does not list, or a value of another type, is an error at the spec naming machine and attribute")
    func unknownAttribute() throws {
        let result = try plan("    attributes: {ProcHyperThreading: Disabled, NetworkBootRetryCount: \"3\", Sriov: Disabled}", Self.recorded)
        guard case .failure(let error) = result else { Issue.record("planned: \(result)"); return }
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        // At `attributes:` of web-01's bios block (line 23, column 17), as the spec loader's diagnostics are.
        #expect(lines.contains { $0.hasSuffix("machines/rack-r1.yaml:23:17: error: machine 'web-01': 'bios.attributes.ProcHyperThreading': "
                + "the BIOS does not list an attribute 'ProcHyperThreading'; check its name (BIOS attribute names are case-sensitive)") }, "\(lines)")
        #expect(lines.contains { $0.hasSuffix("machines/rack-r1.yaml:23:17: error: machine 'web-01': 'bios.attributes.NetworkBootRetryCount' "
                + "is a string (3), but the BIOS holds an integer (20); write it as the BIOS does") }, "\(lines)")
    }

    @Test("A BIOS not read (unreachable BMC) plans nothing, and no error")
    func notRead() throws {
        #expect(try !plan("    attributes: {NoSuchThing: 1}", nil).get().hasChanges)
    }

    @Test("Apply sends the plan's attributes through the BMC access; access without BIOS support fails the step by name")
    func apply() throws {
        let (lab, reconciler, desired, observed) = try lab("    attributes: {ProcHyperthreading: Disabled}", Self.recorded)
        defer { withExtendedLifetime(lab) {} }
        let result = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings)
        let applier = Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil)
        #expect(throws: ApplyError.needsBMC(["web-01"])) { try applier.apply(result) }
        let bmc = RecordingBMC()
        let report = try applier.apply(result, bmc: bmc)
        #expect(bmc.calls == ["web-01 bios ProcHyperthreading=Disabled"])
        #expect(report.bmcSteps == ["web-01: bios ProcHyperthreading: Enabled → Disabled (applies at next reboot)"])
        let refused = #expect(throws: ApplyError.self) { try applier.apply(result, bmc: PowerOnlyBMC()) }
        #expect(refused?.description.contains("web-01: this BMC access cannot set BIOS attributes (ProcHyperthreading)") == true)
    }
}
