@testable import DployController
@testable import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// `storage.logicalDrives` × what the controllers report, planned on the lab (web-01, which
/// has a BMC): what is created, what is destroyed and only when allowed, what waits for a
/// reboot, and what a controller cannot take.
@Suite("RAID drift: storage.logicalDrives planned against the controllers", .ownThread)
struct RAIDDriftTests {
    static func addStorage(to lab: LabCopy, _ logicalDrives: String, extra: String = "", machine: String = "web-01") throws {
        let file = "machines/rack-r1.yaml"
        let marker = "  hostname: \(machine).lab.example.net\n"
        let text = try lab.read(file)
        #expect(text.contains(marker))
        try lab.write(file, text.replacingOccurrences(of: marker, with: marker + "  storage:\n    logicalDrives: \(logicalDrives)\n" + extra))
    }

    static let boot = ObservedLogicalDrive(name: "boot", raid: .Raid1, raidText: "Raid1", drives: ["1I:1:1", "1I:1:2"], id: "600508B1001C0001")

    /// A Smart Array with six SSDs (1I:1:1 … 1I:1:6) and these logical drives.
    static func smartArray(logicalDrives: [ObservedLogicalDrive], pending: [ObservedLogicalDrive]? = nil) -> ObservedStorage {
        ObservedStorage(controllers: [ObservedController(
            interface: .smartStorageConfig, name: "HPE P408i-a (Slot 0)", isSmartArray: true,
            target: "/redfish/v1/systems/1/smartstorageconfig/settings/", logicalDrives: logicalDrives,
            pending: pending ?? logicalDrives, settingsETag: "W/\"5E771002\"",
            drives: (1...6).map { ObservedDrive(location: "1I:1:\($0)", media: .SSD) })])
    }

    func plan(_ logicalDrives: String, extra: String = "", observed storage: ObservedStorage) throws -> Plan {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        try Self.addStorage(to: lab, logicalDrives, extra: extra)
        var observed = try reconciler.observe()
        observed.storage[try #require(MACAddress("94:18:82:3a:5c:10"))] = storage
        return try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings).plan
    }

    static func steps(_ plan: Plan) -> [RAIDChange] {
        plan.actions.compactMap { if case .configureRAID(_, let change, _) = $0 { change } else { nil } }
    }

    @Test("as reported: nothing planned, no note")
    func inSync() throws {
        let plan = try plan("[{name: boot, raid: Raid1, drives: [\"1I:1:2\", \"1I:1:1\"]}]", observed: Self.smartArray(logicalDrives: [Self.boot]))
        #expect(Self.steps(plan).isEmpty && plan.notes.isEmpty, "\(plan.notes)")
    }

    @Test("a new logical drive on free drives keeps the existing one and is not destructive; the ETag read goes with it")
    func create() throws {
        let plan = try plan("[{name: boot, raid: Raid1, drives: [\"1I:1:1\", \"1I:1:2\"]}, {name: data, raid: Raid5, count: 3, media: SSD}]",
                            observed: Self.smartArray(logicalDrives: [Self.boot]))
        let step = try #require(Self.steps(plan).first)
        #expect(step.keep == [Self.boot] && step.delete.isEmpty && step.create.map(\.name) == ["data"])
        #expect(step.ifMatch == "W/\"5E771002\"")
        #expect(plan.machines.first { $0.machine == "web-01" }?.reasons.contains {
            $0.code == .raidDrift && $0.message == "RAID HPE P408i-a (Slot 0): create data Raid5 3×SSD (applies at next reboot)" } == true)
    }

    @Test("a logical drive the spec leaves out, or changes, is not deleted without allowDestructive; a create on free drives still goes")
    func destructiveWithheld() throws {
        let plan = try plan("[{name: boot, raid: Raid0, drives: [\"1I:1:1\", \"1I:1:2\"]}, {name: data, raid: Raid1, drives: [\"1I:1:3\", \"1I:1:4\"]}]",
                            observed: Self.smartArray(logicalDrives: [Self.boot]))
        let step = try #require(Self.steps(plan).first)
        #expect(!step.isDestructive && step.keep == [Self.boot] && step.create.map(\.name) == ["data"], "only the harmless part")
        let note = try #require(plan.notes.first { $0.code == .raidDestructiveWithheld })
        #expect(note.message.hasPrefix("web-01: RAID changes that destroy data withheld: HPE P408i-a (Slot 0): delete boot Raid1 1I:1:1+1I:1:2; set allowDestructive: true on the machine ("))
        #expect(note.message.contains("machines/rack-r1.yaml:"))
    }

    @Test("with allowDestructive: a changed logical drive is deleted and created anew in one step, marked destructive")
    func destructiveAllowed() throws {
        let plan = try plan("[{name: boot, raid: Raid0, drives: [\"1I:1:1\", \"1I:1:2\"]}]", extra: "  allowDestructive: true\n",
                            observed: Self.smartArray(logicalDrives: [Self.boot]))
        let step = try #require(Self.steps(plan).first)
        #expect(step.isDestructive && step.delete == [Self.boot] && step.create.map(\.description) == ["boot Raid0 1I:1:1+1I:1:2"])
        #expect(step.lines == ["bmc     raid HPE P408i-a (Slot 0): delete boot Raid1 1I:1:1+1I:1:2 (DESTROYS DATA)",
                               "bmc     raid HPE P408i-a (Slot 0): create boot Raid0 1I:1:1+1I:1:2 (applies at next reboot)"])
        #expect(plan.notes.isEmpty)
    }

    @Test("written to SmartStorageConfig and not yet built: a raidPendingReboot note, no second step")
    func pendingReboot() throws {
        let data = ObservedLogicalDrive(name: "data", raid: .Raid1, raidText: "Raid1", drives: ["1I:1:3", "1I:1:4"], id: "data")
        let plan = try plan("[{name: boot, raid: Raid1, drives: [\"1I:1:1\", \"1I:1:2\"]}, {name: data, raid: Raid1, drives: [\"1I:1:3\", \"1I:1:4\"]}]",
                            observed: Self.smartArray(logicalDrives: [Self.boot], pending: [Self.boot, data]))
        #expect(Self.steps(plan).isEmpty)
        #expect(plan.notes.map(\.message) == ["web-01: RAID HPE P408i-a (Slot 0): create data Raid1 1I:1:3+1I:1:4 pending: applies at next reboot"])
    }

    @Test("a drive in a logical drive that stays, or one the controller lacks, withholds the step with the spec's line")
    func invalid() throws {
        // 'old' is not in the spec, but without allowDestructive it stays, and holds the drives 'data' names.
        let old = ObservedLogicalDrive(name: "old", raid: .Raid1, raidText: "Raid1", drives: ["1I:1:3", "1I:1:4"], id: "600508B1001C0002")
        let busy = try plan("[{name: boot, raid: Raid1, drives: [\"1I:1:1\", \"1I:1:2\"]}, {name: data, raid: Raid1, drives: [\"1I:1:3\", \"1I:1:4\"]}]",
                            observed: Self.smartArray(logicalDrives: [Self.boot, old]))
        #expect(Self.steps(busy).isEmpty)
        #expect(busy.notes.contains { $0.code == .raidInvalid && $0.message.contains("'data': drive 1I:1:3 is in logical drive 'old', which stays") },
                "\(busy.notes)")
        let tooFew = try plan("[{name: boot, raid: Raid1, drives: [\"1I:1:1\", \"1I:1:2\"]}, {name: data, raid: Raid6, count: 5, media: SSD}]",
                              observed: Self.smartArray(logicalDrives: [Self.boot]))
        #expect(tooFew.notes.contains { $0.code == .raidInvalid && $0.message.contains("'data': HPE P408i-a (Slot 0) has 4 free SSD drives, 5 wanted") },
                "\(tooFew.notes)")
    }
}
