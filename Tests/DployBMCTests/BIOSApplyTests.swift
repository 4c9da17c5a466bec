@testable import DployBMC
import DployApply
import DployConfig
import DployController
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Logging
import Testing

/// BIOS settings from spec to the pending settings resource and through a reboot, against
/// HPE's recorded DL380a Gen11 (iLO 6 v1.66) tree served by Fixtures/ilo_fixture.py --tree:
/// the recorded documents by URI, with our behaviour on top (an ETag on Bios/Settings, 412
/// on a PATCH whose If-Match is not it, a reboot that makes pending values current).
@Suite("BIOS settings applied, against HPE's recorded iLO 6 tree", .ownThread, .requires(.python3, .openssl), .requiresHPEMockups)
struct BIOSApplyTests {
    /// A lab with one machine on the fixture; `attributes` is its `bios.attributes` flow mapping.
    struct Lab {
        let ilo: ILOFixture
        let folder: TemporaryFolder
        let reconciler: Reconciler

        /// - Parameter bmc: the config's lines beside the lab's (`bmc:`, `interval:`).
        init(attributes: String, bmc: String = "bmc: {concurrency: 2}") throws {
            ilo = try ILOFixture(generation: 6, tree: HPEMockups.dl380aGen11)
            folder = try TemporaryFolder(prefix: "dploy-bios")
            for sub in ["specs", "secrets"] {
                try FileManager.default.createDirectory(atPath: folder.file(sub), withIntermediateDirectories: true)
            }
            try folder.write("secrets/ilo.yaml", "username: \(ilo.username)\npassword: '\(ilo.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
            try folder.write("dploy.yaml", BMCLab.applyingConfig(bmc), mode: 0o644)
            try FileManager.default.copyItem(atPath: ilo.certificate.certificate, toPath: folder.file("ilo-ca.pem"))
            let config = try ControllerConfig.load(path: folder.file("dploy.yaml")).get()
            reconciler = Reconciler(config: config, configPath: folder.file("dploy.yaml"))
            try write(attributes: attributes)
        }

        func write(attributes: String) throws {
            try folder.write("specs/gpu-01.yaml", """
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: gpu-01}
                spec:
                  mac: "52:54:00:00:02:01"
                  bmc: {address: "\(ilo.baseURL)", credentials: ilo, caFile: ilo-ca.pem}
                  bios:
                    attributes: \(attributes)

                """, mode: 0o644)
        }

        /// Reads the BMC and plans, as the daemon's loop does.
        func plan(biosRead: Bool = true) async throws -> PlanResult {
            let desired = try reconciler.loadDesired()
            let read = await reconciler.observeBMCs(desired.fleet)
            #expect(read.observations.allSatisfy { $0.error == nil }, "\(read.observations.compactMap(\.error))")
            #expect(read.bios.count == (biosRead ? 1 : 0), "the BIOS was read, or not")
            return try reconciler.plan(desired: desired, bmc: read)
        }

        func apply(_ result: PlanResult) throws -> Applier.Report {
            try Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil)
                .apply(result, bmc: reconciler.bmcActions(for: try reconciler.loadDesired().fleet))
        }

        func patches() async throws -> [JSONValue] {
            try await ilo.requests().filter { $0["method"]?.string == "PATCH" }
        }
    }

    /// The ETag recorded on Bios/Settings (and Oem.Hpe.SettingsObject.UnmodifiedETag).
    static let recordedETag = "W/\"6474FC83F845B7B7B78E8A16E177DCE3\""

    static func biosSteps(_ result: PlanResult) -> [Action] {
        result.plan.actions.filter { $0.kind == .setBIOSAttributes }
    }

    @Test("drift planned per attribute; apply PATCHes only those, with the ETag read; pending until the reboot; then no drift")
    func driftPendingReboot() async throws {
        // Recorded: ProcHyperthreading Enabled, NetworkBootRetryCount 20, Sriov Enabled.
        let lab = try Lab(attributes: "{ProcHyperthreading: Disabled, NetworkBootRetryCount: 5, Sriov: Enabled}")
        let first = try await lab.plan()
        #expect(Self.biosSteps(first) == [.setBIOSAttributes(machine: "gpu-01", [
            BIOSChange(name: "NetworkBootRetryCount", current: .integer(20), desired: .integer(5)),
            BIOSChange(name: "ProcHyperthreading", current: .string("Enabled"), desired: .string("Disabled")),
        ], ifMatch: Self.recordedETag, reason: Reason(.biosDrift, "2 BIOS attributes differ"))])
        let text = first.plan.text(color: false)
        #expect(text.contains("bmc     bios ProcHyperthreading: \"Enabled\" → \"Disabled\""), "\(text)")
        #expect(text.contains("bmc     bios NetworkBootRetryCount: 20 → 5"), "\(text)")

        let report = try lab.apply(first)
        #expect(report.bmcSteps == ["gpu-01: bios NetworkBootRetryCount: 20 → 5, ProcHyperthreading: \"Enabled\" → \"Disabled\" (applies at next reboot)"])
        let patches = try await lab.patches()
        #expect(patches.count == 1)
        let patch = try #require(patches.first)
        #expect(RedfishPath.same(patch["path"]?.string ?? "", "/redfish/v1/systems/1/bios/settings/"))
        // The ETag the plan read (the one recorded on Bios/Settings).
        #expect(patch["ifMatch"]?.string == Self.recordedETag)
        #expect(patch["body"] == .object(["Attributes": .object(["ProcHyperthreading": .string("Disabled"), "NetworkBootRetryCount": .number(5)])]),
                "only the drifted attributes; Sriov is as desired and is not sent")

        // Written, not yet taken: the plan says so and PATCHes nothing again.
        let pending = try await lab.plan()
        #expect(Self.biosSteps(pending).isEmpty)
        #expect(pending.plan.notes.map(\.code) == [.biosPendingReboot])
        #expect(pending.plan.text(color: false).contains(
            "note: gpu-01: BIOS NetworkBootRetryCount: 20 → 5, ProcHyperthreading: \"Enabled\" → \"Disabled\" pending: applies at next reboot"))
        let current = try await RedfishClient(endpoint: try lab.ilo.endpoint(), options: quickOptions()).bios()
        #expect(current.current["ProcHyperthreading"] == .string("Enabled"), "the current settings change only at the reboot")

        try await lab.ilo.control("/_fixture/reboot", .object([:]))
        let settled = try await lab.plan()
        #expect(Self.biosSteps(settled).isEmpty)
        #expect(settled.plan.notes.isEmpty)
        #expect(!settled.plan.hasChanges || settled.plan.machines.allSatisfy { $0.actions.allSatisfy { !$0.needsBMC } })
        #expect(try await lab.patches().count == 1)
    }

    @Test("an attribute the recorded BIOS does not list withholds the machine's BIOS step with a reason naming attribute and file; nothing is PATCHed")
    func unknownAttribute() async throws {
        let lab = try Lab(attributes: "{ProcHyperthreading: Disabled, HyperThreading: Disabled}")
        let result = try await lab.plan()
        #expect(Self.biosSteps(result).isEmpty)
        let notes = result.plan.notes.filter { $0.code == .biosInvalid }.map(\.message)
        #expect(notes.count == 1)
        let text = notes.first ?? ""
        #expect(text.hasPrefix("gpu-01: BIOS settings withheld: "), "\(text)")
        #expect(text.contains("specs/gpu-01.yaml:8:17: 'bios.attributes.HyperThreading': the BIOS does not list an attribute 'HyperThreading'"),
                "\(text)")
        #expect(!text.contains("ProcHyperthreading"))
        _ = try lab.apply(result)
        #expect(try await lab.patches().isEmpty)
    }

    @Test("the daemon's loop, once it has read the BIOS: a spec naming an attribute the BIOS does not list fails the run at its line, with a suggestion; the state in force stays, nothing is PATCHed")
    func loopRefusesUnknownAttribute() async throws {
        let lab = try Lab(attributes: "{ProcHyperthreading: Enabled}", bmc: "interval: 1h\nbmc: {concurrency: 2, observe: true}")
        let store = try #require(try lab.reconciler.openStore(creating: true))
        let loop = ReconcileLoop(reconciler: lab.reconciler, store: store, metrics: ControllerMetrics(), logger: Logger(label: "test.bios"))
        // The first run loads the specs before any BIOS is read (nothing to check against),
        // then reads the BMC: the recorded BIOS is what the next load is checked against.
        await loop.runOnce(trigger: "start")
        #expect(loop.status.lastRun?.result != .failed, "\(loop.status)")

        try lab.write(attributes: "{ProcHyperThreading: Disabled}")
        await loop.runOnce(trigger: "webhook")
        #expect(loop.status.lastRun?.result == .failed)
        // Line 8 of gpu-01.yaml, `    attributes: {ProcHyperThreading: Disabled}`: the name is at column 18.
        let error = loop.status.lastError ?? ""
        #expect(error.contains("specs/gpu-01.yaml:8:18: error: machine 'gpu-01': 'bios.attributes.ProcHyperThreading': the BIOS does not "
                               + "list an attribute 'ProcHyperThreading'; check its name (BIOS attribute names are case-sensitive); "
                               + "did you mean 'ProcHyperthreading'?"), "\(error)")
        #expect(loop.desired?.fleet.machine(named: "gpu-01")?.settings.bios?.attributes == ["ProcHyperthreading": .string("Enabled")],
                "the desired state of the run before stays in force")
        #expect(try await lab.patches().isEmpty)
    }

    @Test("a Bios that names no settings object: no PATCH planned, a biosNoSettings note; apply sends nothing")
    func noSettingsObject() async throws {
        let lab = try Lab(attributes: "{ProcHyperthreading: Disabled}")
        try await lab.ilo.control("/_fixture/bios-drop", .object(["field": .string("@Redfish.Settings")]))
        let result = try await lab.plan()
        #expect(Self.biosSteps(result).isEmpty)
        #expect(result.plan.notes.map(\.code) == [.biosNoSettings], "\(result.plan.notes)")
        _ = try lab.apply(result)
        #expect(try await lab.patches().isEmpty)
    }

    @Test("a Bios without Attributes: the daemon's plan has a biosUnread note with the error, no BIOS step")
    func unreadIsNotSilent() async throws {
        let lab = try Lab(attributes: "{ProcHyperthreading: Disabled}")
        try await lab.ilo.control("/_fixture/bios-drop", .object(["field": .string("Attributes")]))
        let result = try await lab.plan(biosRead: false)
        #expect(Self.biosSteps(result).isEmpty)
        let notes = result.plan.notes.filter { $0.code == .biosUnread }.map(\.message)
        #expect(notes.count == 1 && notes[0].hasPrefix("gpu-01: BIOS settings not read, so none is planned: ")
                && notes[0].contains("has no Attributes object"), "\(notes)")
    }

    @Test("a Bios or pending settings without an Attributes object is a read error, not a BIOS that lists nothing", arguments: [false, true])
    func noAttributes(settings: Bool) async throws {
        let ilo = try ILOFixture(generation: 6, tree: HPEMockups.dl380aGen11)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        #expect(try await client.bios().names.contains("ProcHyperthreading"))
        try await ilo.control("/_fixture/bios-drop", .object(["field": .string("Attributes"), "settings": .bool(settings)]))
        let error = await #expect(throws: BMCError.self) { try await client.bios() }
        #expect(error?.kind == .badResponse)
        #expect(error?.description.contains("has no Attributes object: the BIOS settings could not be read") == true, "\(String(describing: error))")
        await client.close()
    }

    @Test("a 412: the pending settings changed after the plan read them; the step fails naming it, no second PATCH; the next plan PATCHes with the new ETag")
    func preconditionFailed() async throws {
        let lab = try Lab(attributes: "{ProcHyperthreading: Disabled}")
        let result = try await lab.plan()
        // Another writer (the iLO page, another controller) between the plan's read and the apply.
        try await lab.ilo.control("/_fixture/bios-other-writer", .object([:]))
        let error = #expect(throws: ApplyError.self) { try lab.apply(result) }
        guard case .bmcFailed(let failures) = error else { Issue.record("expected bmcFailed, got \(String(describing: error))"); return }
        let failure = failures.joined()
        #expect(failure.hasPrefix("gpu-01: "))
        #expect(failure.contains("HTTP 412") && failure.contains("/redfish/v1/systems/1/bios/settings/ changed since dploy read them"), "\(failure)")
        #expect(!failure.contains(lab.ilo.password))
        let refused = try await lab.patches()
        #expect(refused.count == 1, "no retry loop")
        #expect(refused.first?["ifMatch"]?.string == Self.recordedETag, "the ETag the plan read, not one read at apply")
        // The next plan reads the settings anew and plans the PATCH again, with the new ETag.
        let again = try await lab.plan()
        #expect(Self.biosSteps(again).count == 1)
        _ = try lab.apply(again)
        let patches = try await lab.patches()
        #expect(patches.count == 2)
        #expect(patches.last?["ifMatch"]?.string != Self.recordedETag)
    }

    @Test("the fixture's Bios/Settings: an ETag on GET; PATCH without If-Match or with a stale one is 412, with it the pending values change")
    func fixtureSettingsResource() async throws {
        let ilo = try ILOFixture(generation: 6, tree: HPEMockups.dl380aGen11)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let settings = "/redfish/v1/systems/1/bios/settings/"
        let etag = try #require(try await client.run { try $0.get(settings).etag })
        let body = JSONValue.object(["Attributes": .object(["Sriov": .string("Disabled")])])
        for ifMatch in [nil, "W/\"00000000\""] {
            let refused = await #expect(throws: BMCError.self) {
                try await client.run { try $0.send(.patch, settings, body: body, ifMatch: ifMatch, doing: "test") }
            }
            #expect(refused?.status == 412)
        }
        _ = try await client.run { try $0.send(.patch, settings, body: body, ifMatch: etag, doing: "test") }
        let after = try await client.bios()
        #expect(after.pending?["Sriov"] == .string("Disabled"))
        #expect(after.current["Sriov"] == .string("Enabled"))
        #expect(try await client.run { try $0.get(settings).etag } != etag, "a write changes the ETag")
        // iLO 6's Bios resource itself is read-only.
        let readOnly = await #expect(throws: BMCError.self) {
            try await client.run { try $0.send(.patch, "/redfish/v1/systems/1/bios/", body: body, doing: "test") }
        }
        #expect(readOnly?.status == 405)
        await client.close()
    }
}
