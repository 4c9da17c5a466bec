import DployApply
import DployController
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// `bios.attributes` × the BIOS the BMC reported, planned on the example lab (web-01 has a
/// BMC), without a BMC: the planner is pure, the applier takes any `BMCActions`.
@Suite("BIOS drift", .ownThread)
struct BIOSDriftTests {
    static let web01 = MACAddress("94:18:82:3a:5c:10")!
    static let web02 = MACAddress("94:18:82:3a:5c:2e")!

    /// Gives a machine of rack-r1 (web-01 unless said) a `bios:` block (the lines below it,
    /// indented for a machine's spec).
    static func addBIOS(to lab: LabCopy, _ lines: String, machine: String = "web-01") throws {
        let file = "machines/rack-r1.yaml"
        let marker = "  hostname: \(machine).lab.example.net\n"
        let text = try lab.read(file)
        #expect(text.contains(marker))
        try lab.write(file, text.replacingOccurrences(of: marker, with: marker + "  bios:\n" + lines + "\n"))
    }

    /// The lab applied once, then web-01 given `lines` as its BIOS block; the observed state
    /// as the apply left it, with `bios` as web-01's reading when given.
    /// `web02`, when given, is web-02's BIOS block and reading.
    func lab(_ lines: String, _ bios: ObservedBIOS?, web02: (lines: String, bios: ObservedBIOS)? = nil)
        throws -> (lab: LabCopy, reconciler: Reconciler, desired: DesiredState, observed: ObservedState) {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        try Self.addBIOS(to: lab, lines)
        var observed = try reconciler.observe()
        observed.bios[Self.web01] = bios
        if let web02 {
            try Self.addBIOS(to: lab, web02.lines, machine: "web-02")
            observed.bios[Self.web02] = web02.bios
        }
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
        ], ifMatch: nil, reason: Reason(.biosDrift, "2 BIOS attributes differ"))])
        #expect(web.reasons.map(\.code) == [.biosDrift])
        let text = plan.text(color: false)
        #expect(text.contains("bmc     bios NetworkBootRetryCount: 20 → 3\n"), "\(text)")
        #expect(text.contains("bmc     bios ProcHyperthreading: \"Enabled\" → \"Disabled\"\n"), "\(text)")
        #expect(!text.contains("Sriov"))
    }

    @Test("Pending values equal to the desired ones: nothing planned, a note says they apply at next reboot")
    func pending() throws {
        var bios = Self.recorded
        bios.pending?["ProcHyperthreading"] = .string("Disabled")
        let plan = try plan("    attributes: {ProcHyperthreading: Disabled}", bios).get()
        #expect(plan.machines.first { $0.machine == "web-01" } == nil)
        #expect(plan.notes.contains(Reason(.biosPendingReboot,
                                           "web-01: BIOS ProcHyperthreading: \"Enabled\" → \"Disabled\" pending: applies at next reboot")), "\(plan.notes)")
        #expect(plan.text(color: false).contains("note: web-01: BIOS ProcHyperthreading: \"Enabled\" → \"Disabled\" pending: applies at next reboot"))
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

    @Test("An attribute the BIOS does not list, or a value of another type: that machine's BIOS step is withheld with a reason naming attribute and spec line")
    func unknownAttribute() throws {
        let plan = try plan("    attributes: {ProcHyperThreading: Disabled, NetworkBootRetryCount: \"3\", Sriov: Disabled}", Self.recorded).get()
        #expect(plan.actions.filter { $0.kind == .setBIOSAttributes }.isEmpty, "Sriov is valid, but nothing of web-01's BIOS is sent")
        let note = try #require(plan.notes.first { $0.code == .biosInvalid }, "\(plan.notes)")
        // At `attributes:` of web-01's bios block (line 23, column 17), as the spec loader's diagnostics are.
        #expect(note.message.hasPrefix("web-01: BIOS settings withheld: "), "\(note.message)")
        #expect(note.message.contains("machines/rack-r1.yaml:23:17: "), "\(note.message)")
        #expect(note.message.contains("'bios.attributes.ProcHyperThreading': the BIOS does not list an attribute 'ProcHyperThreading'; "
                                      + "check its name (BIOS attribute names are case-sensitive)"), "\(note.message)")
        #expect(note.message.contains("'bios.attributes.NetworkBootRetryCount' is a string (\"3\"), but the BIOS holds an integer (20); "
                                      + "write it as the BIOS does"), "\(note.message)")
        #expect(!note.message.contains("\n"))
    }

    @Test("One machine's BIOS refuses its spec: its step is withheld, another machine's BIOS step is planned and applied")
    func isolation() throws {
        var bios02 = Self.recorded
        bios02.current["ProcHyperthreading"] = .string("Disabled")
        bios02.pending?["ProcHyperthreading"] = .string("Disabled")
        let (lab, reconciler, desired, observed) = try lab("    attributes: {HyperThreading: Disabled}", Self.recorded,
                                                           web02: ("    attributes: {ProcHyperthreading: Enabled}", bios02))
        defer { withExtendedLifetime(lab) {} }
        let result = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings)
        #expect(result.plan.actions.filter { $0.kind == .setBIOSAttributes }.map(\.machine) == ["web-02"])
        #expect(result.plan.notes.filter { $0.code == .biosInvalid }.map { $0.message.prefix(8) } == ["web-01: "])
        let bmc = RecordingBMC()
        let report = try Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil).apply(result, bmc: bmc)
        #expect(bmc.calls == ["web-02 bios ProcHyperthreading=\"Enabled\""])
        #expect(report.bmcSteps == ["web-02: bios ProcHyperthreading: \"Disabled\" → \"Enabled\" (applies at next reboot)"])
    }

    @Test("A BIOS with no settings object: no PATCH is planned (it could not succeed), a reason and a note say why")
    func noSettingsObject() throws {
        var bios = Self.recorded
        bios.pending = nil
        let withheld = try plan("    attributes: {ProcHyperthreading: Disabled, Sriov: Enabled}", bios).get()
        #expect(withheld.actions.filter { $0.kind == .setBIOSAttributes }.isEmpty)
        #expect(withheld.notes.filter { $0.code == .biosNoSettings }.map(\.message) == [
            "web-01: BIOS ProcHyperthreading: \"Enabled\" → \"Disabled\" differ, but the BIOS names no settings object "
                + "(@Redfish.Settings.SettingsObject): it takes no changes over Redfish, so none is planned"])
        // Nothing differs: nothing to say.
        let settled = try plan("    attributes: {Sriov: Enabled}", bios).get()
        #expect(!settled.notes.contains { $0.code == .biosNoSettings })
    }

    @Test("Values a BMC reports are quoted and escaped in plan lines, notes and reasons: one line each, no terminal escapes")
    func hostileValues() throws {
        var bios = Self.recorded
        bios.current["ProcHyperthreading"] = .string("Enabled\n\u{1B}[2Jbmc     power off")
        bios.current["NetworkBootRetryCount"] = .string("20\u{2028}")
        let plan = try plan("    attributes: {ProcHyperthreading: Disabled, NetworkBootRetryCount: 3}", bios).get()
        let note = try #require(plan.notes.first { $0.code == .biosInvalid })
        #expect(note.message.contains(#"is an integer (3), but the BIOS holds a string ("20\u{2028}")"#), "\(note.message)")
        bios.current["NetworkBootRetryCount"] = .integer(20)
        let drift = try self.plan("    attributes: {ProcHyperthreading: Disabled}", bios).get()
        let text = drift.text(color: false)
        #expect(text.contains(#"bmc     bios ProcHyperthreading: "Enabled\n\u{1B}[2Jbmc     power off" → "Disabled""#), "\(text)")
        #expect(!text.contains("\u{1B}") && !text.contains("\u{2028}"))
        #expect(!text.contains("\nbmc     power off"))
    }

    @Test("A pending value of another type than the desired one is a biosInvalid reason, not a PATCH on every run")
    func pendingTypeChecked() throws {
        var bios = Self.recorded
        bios.pending?["NetworkBootRetryCount"] = .string("5")
        let plan = try plan("    attributes: {NetworkBootRetryCount: 5}", bios).get()
        #expect(plan.actions.filter { $0.kind == .setBIOSAttributes }.isEmpty)
        let note = try #require(plan.notes.first { $0.code == .biosInvalid })
        #expect(note.message.contains(#"'bios.attributes.NetworkBootRetryCount' is an integer (5), but the BIOS's pending settings hold a string ("5")"#),
                "\(note.message)")
    }

    @Test("In a reinstall the BIOS step comes before boot-once and the power cycle, so the install's reboot takes the settings")
    func beforeReinstall() throws {
        // web-02 (a profile, a BMC) with generation 0 installed: a reinstall is owed.
        var (lab, reconciler, desired, observed) = try lab("    attributes: {}", nil,
                                                           web02: ("    attributes: {ProcHyperthreading: Disabled}", Self.recorded))
        defer { withExtendedLifetime(lab) {} }
        observed.installedGenerations[Self.web02] = 0
        let plan = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings).plan
        let web = try #require(plan.machines.first { $0.machine == "web-02" })
        #expect(web.actions.filter(\.needsBMC).map(\.kind) == [.setBIOSAttributes, .bootOnceFromNetwork, .power], "\(web.actions)")
    }

    @Test("A machine's BIOS problems are listed up to 5, the rest counted")
    func problemsCapped() throws {
        let names = (1...8).map { "Missing\($0)" }
        let plan = try plan("    attributes: {\(names.map { "\($0): x" }.joined(separator: ", "))}", Self.recorded).get()
        let note = try #require(plan.notes.first { $0.code == .biosInvalid })
        #expect(note.message.components(separatedBy: "the BIOS does not list").count - 1 == 5, "\(note.message)")
        #expect(note.message.hasSuffix("; … and 3 more"), "\(note.message)")
    }

    @Test("A BIOS not read: nothing planned; when the BMC read says why, a biosUnread reason and note hold the error, escaped")
    func notRead() throws {
        // No BMC read at all (dploy plan reads none): nothing to say.
        #expect(try !plan("    attributes: {NoSuchThing: 1}", nil).get().hasChanges)
        let (lab, reconciler, desired, base) = try lab("    attributes: {ProcHyperthreading: Disabled}", nil)
        defer { withExtendedLifetime(lab) {} }
        var observed = base
        observed.biosUnread[Self.web01] = "https://198.18.0.101: /redfish/v1/Systems/1/Bios/ has no Attributes object\n\u{1B}[2J"
        let plan = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings).plan
        #expect(plan.actions.filter { $0.kind == .setBIOSAttributes }.isEmpty)
        #expect(plan.notes.filter { $0.code == .biosUnread }.map(\.message) == [
            #"web-01: BIOS settings not read, so none is planned: https://198.18.0.101: /redfish/v1/Systems/1/Bios/ has no Attributes object\n\u{1B}[2J"#])
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
        #expect(bmc.calls == ["web-01 bios ProcHyperthreading=\"Disabled\""])
        #expect(report.bmcSteps == ["web-01: bios ProcHyperthreading: \"Enabled\" → \"Disabled\" (applies at next reboot)"])
        let refused = #expect(throws: ApplyError.self) { try applier.apply(result, bmc: PowerOnlyBMC()) }
        #expect(refused?.description.contains("web-01: this BMC access cannot set BIOS attributes (ProcHyperthreading)") == true)
    }
}
