@testable import DployBMC
import DployApply
import DployConfig
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Logging
import Testing

/// Smart Array RAID from spec to controller, against HPE's recorded trees served by
/// Fixtures/ilo_fixture.py --tree: the DL360 Gen10 Plus (iLO 5, SmartStorageConfig, one
/// Raid1 `BootVolume` on 2I:1:1 and 2I:1:2) and the DL380a Gen11 (iLO 6, DMTF Volumes, one
/// RAID1 volume 239 on bays 6 and 7, bay 5 free). Each step goes planner → job row → worker →
/// RedfishClient → fixture, and the fixture's request log says what reached the BMC.
@Suite("Smart Array RAID as desired state, against HPE's recorded iLO 5 and iLO 6 trees", .ownThread, .requires(.python3, .openssl), .requiresHPEMockups)
struct RAIDApplyTests {
    final class Lab: @unchecked Sendable {
        let ilo: ILOFixture
        let folder: TemporaryFolder
        let reconciler: Reconciler
        let store: any Store

        init(tree: URL, generation: Int) throws {
            ilo = try ILOFixture(generation: generation, tree: tree)
            folder = try TemporaryFolder(prefix: "dploy-raid")
            for sub in ["specs", "secrets"] {
                try FileManager.default.createDirectory(atPath: folder.file(sub), withIntermediateDirectories: true)
            }
            try folder.write("secrets/ilo.yaml", "username: \(ilo.username)\npassword: '\(ilo.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
            try folder.write("dploy.yaml", BMCLab.applyingConfig("bmc: {concurrency: 2, jobWorkers: 1}"), mode: 0o644)
            try FileManager.default.copyItem(atPath: ilo.certificate.certificate, toPath: folder.file("ilo-ca.pem"))
            let config = try ControllerConfig.load(path: folder.file("dploy.yaml")).get()
            reconciler = Reconciler(config: config, configPath: folder.file("dploy.yaml"))
            try reconciler.makeCallbackKey()
            store = try #require(try reconciler.openStore(creating: true))
        }

        /// The machine's spec: `logicalDrives` is a flow sequence, `extra` more lines of `spec`.
        func write(logicalDrives: String, extra: String = "") throws {
            try folder.write("specs/db-01.yaml", """
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: db-01}
                spec:
                  mac: "52:54:00:00:03:01"
                  bmc: {address: "\(ilo.baseURL)", credentials: ilo, caFile: ilo-ca.pem}
                  storage:
                    logicalDrives: \(logicalDrives)
                \(extra)
                """, mode: 0o644)
        }

        /// Reads the BMC and plans, as the daemon's loop does.
        func plan() async throws -> PlanResult {
            let desired = try reconciler.loadDesired()
            let read = await reconciler.observeBMCs(desired.fleet)
            #expect(read.observations.allSatisfy { $0.error == nil }, "\(read.observations.compactMap(\.error))")
            #expect(read.storageUnread.isEmpty, "\(read.storageUnread)")
            return try reconciler.plan(desired: desired, store: store, bmc: read)
        }

        /// Applies as the daemon does (steps become job rows), then lets one worker run them.
        func applyAndRunJobs(_ result: PlanResult) throws -> [BMCJob] {
            _ = try reconciler.apply(result, fleet: try reconciler.loadDesired().fleet, jobs: (store, nil))
            return try runJobs()
        }

        /// One worker runs the queued (and resumes the running) jobs until none is left.
        func runJobs() throws -> [BMCJob] {
            let fleet = try reconciler.loadDesired().fleet
            var settings = BMCJobRunner.Settings(workers: 1)
            settings.idlePoll = .milliseconds(50)
            let runner = BMCJobRunner(store: store, settings: settings,
                                      access: { [reconciler] in BMCJobAccess(fleet: fleet, secrets: reconciler.secretStore, baseDirectory: reconciler.bmcBaseDirectory) },
                                      logger: Logger(label: "test.raid"), recordEvent: { _ in })
            try runner.start()
            #expect(runner.waitUntilIdle(timeout: .seconds(60)))
            runner.stop()
            return try store.bmcJobs(states: nil, machine: "db-01", limit: 20)
        }

        /// Requests that change something, in order (GETs and logins left out).
        func writes() async throws -> [JSONValue] {
            try await ilo.requests().filter {
                let method = $0["method"]?.string ?? ""
                return ["PUT", "PATCH", "DELETE"].contains(method)
                    || (method == "POST" && $0["path"]?.string?.lowercased().contains("sessions") == false)
            }.filter { $0["method"]?.string != "DELETE" || $0["path"]?.string?.lowercased().contains("sessions") == false }
        }
    }

    static func raidSteps(_ result: PlanResult) -> [RAIDChange] {
        result.plan.actions.compactMap { if case .configureRAID(_, let change, _) = $0 { change } else { nil } }
    }

    static let dl360Settings = "/redfish/v1/systems/1/smartstorageconfig/settings/"
    static let dl360ETag = "W/\"21338EA2AA87CFCFCF8F38E5223D2E01\""
    static let bootVolume = "{name: BootVolume, raid: Raid1, drives: [\"2I:1:1\", \"2I:1:2\"]}"

    // MARK: Reading the recorded trees

    @Test("iLO 5 DL360: SmartStorageConfig read with its drives (media from ArrayControllers), the pending settings and their ETag")
    func readsSmartStorage() async throws {
        let ilo = try ILOFixture(generation: 5, tree: HPEMockups.dl360Gen10Plus)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let storage = try await client.storage()
        await client.close()
        #expect(storage.controllers.count == 1)
        let controller = try #require(storage.controllers.first)
        #expect(controller.interface == .smartStorageConfig)
        #expect(controller.name == "HPE SR416i-a Gen10+ (Slot 12)")
        #expect(controller.isSmartArray && storage.smartArrayControllers == 1)
        #expect(controller.target == Self.dl360Settings)
        #expect(controller.settingsETag == Self.dl360ETag)
        #expect(controller.logicalDrives == [ObservedLogicalDrive(name: "BootVolume", raid: .Raid1, raidText: "Raid1",
                                                                  drives: ["2I:1:1", "2I:1:2"], id: "600508B1001C132B81081AF6C8CF6FD1")])
        #expect(controller.pending == controller.logicalDrives)
        #expect(Set(controller.drives) == [ObservedDrive(location: "2I:1:1", media: .SSD), ObservedDrive(location: "2I:1:2", media: .SSD)])
        #expect(controller.freeDrives.isEmpty)
    }

    @Test("iLO 5 DL365 Gen10 Plus: SmartStorageConfig wins over the DMTF Storage that lists the same SR932i-p")
    func readsSmartStorageBesideDMTF() async throws {
        let ilo = try ILOFixture(generation: 5, tree: HPEMockups.dl365Gen10Plus)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let storage = try await client.storage()
        await client.close()
        #expect(storage.controllers.map(\.name) == ["HPE SR932i-p Gen10+ (Slot 1)"])
        #expect(storage.controllers.first?.interface == .smartStorageConfig)
        #expect(storage.controllers.first?.logicalDrives.map(\.text) == ["Logical Drive 1 Raid1 4I:1:2+4I:1:1"])
        #expect(storage.controllers.first?.settingsETag == "W/\"8CC7F16CCD9D0808087F339BA21E366C\"")
    }

    @Test("iLO 6 DL380a Gen11: DMTF Storage, volume 239 with its drives by service label, the RAID types Volumes/Capabilities allows")
    func readsDMTFVolumes() async throws {
        let ilo = try ILOFixture(generation: 6, tree: HPEMockups.dl380aGen11)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let storage = try await client.storage()
        await client.close()
        #expect(storage.controllers.map(\.name) == ["HPE MR416i-o Gen11 (DE00A000)", "HPE MR416i-o Gen11 (DE00B000)"])
        #expect(storage.smartArrayControllers == 0, "MegaRAID is not a Smart Array: no ACU")
        let controller = try #require(storage.controllers.last)
        #expect(controller.interface == .volumes)
        #expect(controller.target == "/redfish/v1/Systems/1/Storage/DE00B000/Volumes")
        #expect(controller.logicalDrives == [ObservedLogicalDrive(
            name: "MR Volume 239", raid: .Raid1, raidText: "RAID1",
            drives: ["Slot=18:Port=1:Box=1:Bay=6", "Slot=18:Port=2:Box=1:Bay=7"], id: "/redfish/v1/Systems/1/Storage/DE00B000/Volumes/239")])
        #expect(controller.raidLevels == [.Raid0, .Raid1, .Raid10, .Raid5, .Raid50, .Raid6, .Raid60])
        #expect(controller.freeDrives == [ObservedDrive(location: "Slot=18:Port=1:Box=1:Bay=5", media: .SSD,
                                                        path: "/redfish/v1/Chassis/DE00B000/Drives/2")], "the empty bay is no drive")
        #expect(controller.pending == nil)
    }

    @Test("the ACU link's question, as the observer asks every iLO: the DL360 and DL365 report a Smart Array, the DL380a's MegaRAIDs are none",
          arguments: [(HPEMockups.dl360Gen10Plus, 1), (HPEMockups.dl365Gen10Plus, 1), (HPEMockups.dl380aGen11, 0)])
    func smartArrayCount(tree: URL, expected: Int) async throws {
        let ilo = try ILOFixture(generation: 5, tree: tree)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let reading = try await BMCObserver(secrets: nil, baseDirectory: "/").reading(from: client)
        await client.close()
        #expect(reading.webPage != nil, "an iLO")
        #expect(reading.smartArrayControllers == expected)
    }

    @Test("what a BMC names (logical drives, drives, levels) prints on one line, with no escape sequence, at most 64 characters")
    func hostileNames() throws {
        let json = try JSONValue(parsing: Array(#"""
            {"LogicalDriveName": "boot\u001b[2J\nrm -rf", "Raid": "Raid1\r", "VolumeUniqueIdentifier": "600508B1",
             "DataDrives": ["1I:1:1\u2028", "\#(String(repeating: "x", count: 100))"]}
            """#.utf8))
        let drive = try #require(StorageDocuments.smartStorageLogicalDrive(json))
        #expect(drive.name == #"boot\u{1B}[2J\nrm -rf"#)
        #expect(drive.raid == nil && drive.raidText == #"Raid1\r"#)
        #expect(!drive.text.unicodeScalars.contains { Names.isControlOrLineBreak($0) })
        #expect(drive.drives.last == String(repeating: "x", count: 64) + "…")
        #expect(drive.id == "600508B1", "the id goes back to the BMC as it came, JSON-encoded")
    }

    // MARK: iLO 5: SmartStorageConfig

    @Test("iLO 5: a new logical drive on new disks is an ordinary step; one PUT of the whole array with DataGuard Strict and the ETag read; pending until the reboot")
    func smartStorageCreate() async throws {
        let lab = try Lab(tree: HPEMockups.dl360Gen10Plus, generation: 5)
        try await lab.ilo.control("/_fixture/add-disks", .object(["locations": .array([.string("1I:1:1"), .string("1I:1:2"), .string("1I:1:3")]),
                                                                  "media": .string("SSD")]))
        try lab.write(logicalDrives: "[\(Self.bootVolume), {name: data, raid: Raid5, count: 3, media: SSD}]")
        let first = try await lab.plan()
        let step = try #require(Self.raidSteps(first).first)
        #expect(Self.raidSteps(first).count == 1)
        #expect(!step.isDestructive && step.delete.isEmpty)
        #expect(step.create.map(\.description) == ["data Raid5 3×SSD"])
        #expect(step.ifMatch == Self.dl360ETag)
        let text = first.plan.text(color: false)
        #expect(text.contains("bmc     raid HPE SR416i-a Gen10+ (Slot 12): create data Raid5 3×SSD (applies at next reboot)"), "\(text)")
        #expect(first.plan.machines.first?.reasons.map(\.code).contains(.raidDrift) == true)

        let jobs = try lab.applyAndRunJobs(first)
        #expect(jobs.map(\.state) == [.succeeded], "\(jobs)")
        #expect(jobs.first?.step == "raid HPE SR416i-a Gen10+ (Slot 12)")
        let writes = try await lab.writes()
        #expect(writes.count == 1)
        let put = try #require(writes.first)
        #expect(put["method"]?.string == "PUT")
        #expect(RedfishPath.same(put["path"]?.string ?? "", Self.dl360Settings))
        #expect(put["ifMatch"]?.string == Self.dl360ETag)
        #expect(put["body"]?["DataGuard"]?.string == "Strict", "nothing is deleted: Strict, so the controller destroys nothing")
        let entries = put["body"]?["LogicalDrives"]?.array ?? []
        #expect(entries.count == 2)
        #expect(entries.first?["VolumeUniqueIdentifier"]?.string == "600508B1001C132B81081AF6C8CF6FD1", "the existing drive sent as it is")
        #expect(entries.last == .object(["LogicalDriveName": .string("data"), "Raid": .string("Raid5"), "SpareDrives": .array([]),
                                         "DataDrives": .object(["DataDriveCount": .number(3), "DataDriveMediaType": .string("SSD")])]))

        // Written, not built: the plan says it applies at the next reboot and PUTs nothing again.
        let pending = try await lab.plan()
        #expect(Self.raidSteps(pending).isEmpty)
        #expect(pending.plan.notes.map(\.code) == [.raidPendingReboot], "\(pending.plan.notes)")
        #expect(pending.plan.notes.first?.message == "db-01: RAID HPE SR416i-a Gen10+ (Slot 12): create data Raid5 3×SSD pending: applies at next reboot")

        try await lab.ilo.control("/_fixture/reboot", .object([:]))
        let settled = try await lab.plan()
        #expect(Self.raidSteps(settled).isEmpty && settled.plan.notes.isEmpty, "\(settled.plan.notes)")
        #expect(try await lab.writes().count == 1)
    }

    @Test("iLO 5: changing a logical drive that exists is refused without allowDestructive (nothing sent) and sent with it: delete action, DataGuard Permissive")
    func smartStorageDestructive() async throws {
        let lab = try Lab(tree: HPEMockups.dl360Gen10Plus, generation: 5)
        try lab.write(logicalDrives: "[{name: BootVolume, raid: Raid0, drives: [\"2I:1:1\", \"2I:1:2\"]}]")
        let refused = try await lab.plan()
        #expect(Self.raidSteps(refused).isEmpty)
        let notes = refused.plan.notes.filter { $0.code == .raidDestructiveWithheld }.map(\.message)
        #expect(notes.count == 1, "\(notes)")
        #expect(notes.first?.hasPrefix("db-01: RAID changes that destroy data withheld: HPE SR416i-a Gen10+ (Slot 12): delete BootVolume Raid1 2I:1:1+2I:1:2; "
                                       + "set allowDestructive: true on the machine (") == true, "\(notes)")
        #expect(notes.first?.hasSuffix("specs/db-01.yaml:8:20), or raise its generation to reinstall it") == true, "\(notes)")
        _ = try lab.applyAndRunJobs(refused)
        #expect(try await lab.writes().isEmpty, "nothing destructive reaches the BMC")

        try lab.write(logicalDrives: "[{name: BootVolume, raid: Raid0, drives: [\"2I:1:1\", \"2I:1:2\"]}]", extra: "  allowDestructive: true")
        let allowed = try await lab.plan()
        let step = try #require(Self.raidSteps(allowed).first)
        #expect(step.isDestructive)
        #expect(allowed.plan.machines.first?.reasons.map(\.code).contains(.raidDestructive) == true)
        let text = allowed.plan.text(color: false)
        #expect(text.contains("bmc     raid HPE SR416i-a Gen10+ (Slot 12): delete BootVolume Raid1 2I:1:1+2I:1:2 (DESTROYS DATA)"), "\(text)")
        #expect(text.contains("bmc     raid HPE SR416i-a Gen10+ (Slot 12): create BootVolume Raid0 2I:1:1+2I:1:2 (applies at next reboot)"), "\(text)")
        let jobs = try lab.applyAndRunJobs(allowed)
        #expect(jobs.first?.state == .succeeded, "\(jobs)")
        let put = try #require(try await lab.writes().first)
        #expect(put["body"]?["DataGuard"]?.string == "Permissive", "only the drive carrying the delete action goes")
        #expect(put["body"]?["LogicalDrives"] == .array([
            .object(["Actions": .array([.object(["Action": .string("LogicalDriveDelete")])]),
                     "VolumeUniqueIdentifier": .string("600508B1001C132B81081AF6C8CF6FD1")]),
            .object(["LogicalDriveName": .string("BootVolume"), "Raid": .string("Raid0"), "SpareDrives": .array([]),
                     "DataDrives": .array([.string("2I:1:1"), .string("2I:1:2")])]),
        ]))
        try await lab.ilo.control("/_fixture/reboot", .object([:]))
        let settled = try await lab.plan()
        #expect(Self.raidSteps(settled).isEmpty && settled.plan.notes.isEmpty, "\(settled.plan.notes)")
    }

    @Test("iLO 5: the fixture refuses what DataGuard Strict forbids, and a PUT without the current ETag")
    func fixtureDataGuard() async throws {
        let ilo = try ILOFixture(generation: 5, tree: HPEMockups.dl360Gen10Plus)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let delete = JSONValue.object(["Actions": .array([.object(["Action": .string("LogicalDriveDelete")])]),
                                       "VolumeUniqueIdentifier": .string("600508B1001C132B81081AF6C8CF6FD1")])
        for body in [JSONValue.object(["DataGuard": .string("Strict"), "LogicalDrives": .array([delete])]),
                     .object(["DataGuard": .string("Strict"), "LogicalDrives": .array([])])] {
            let refused = await #expect(throws: BMCError.self) {
                try await client.run { try $0.send(.put, Self.dl360Settings, body: body, ifMatch: Self.dl360ETag, doing: "test") }
            }
            #expect(refused?.status == 400)
        }
        let stale = await #expect(throws: BMCError.self) {
            try await client.run { try $0.send(.put, Self.dl360Settings, body: .object(["DataGuard": .string("Permissive"), "LogicalDrives": .array([delete])]),
                                                ifMatch: "W/\"00000000\"", doing: "test") }
        }
        #expect(stale?.status == 412)
        await client.close()
    }

    @Test("iLO 5: a 412 (the settings changed after the plan read them) fails the job naming it; one PUT, no retry")
    func smartStoragePreconditionFailed() async throws {
        let lab = try Lab(tree: HPEMockups.dl360Gen10Plus, generation: 5)
        try await lab.ilo.control("/_fixture/add-disks", .object(["locations": .array([.string("1I:1:1"), .string("1I:1:2")])]))
        try lab.write(logicalDrives: "[\(Self.bootVolume), {name: logs, raid: Raid1, drives: [\"1I:1:1\", \"1I:1:2\"]}]")
        let result = try await lab.plan()
        #expect(Self.raidSteps(result).count == 1)
        try await lab.ilo.control("/_fixture/ssc-other-writer", .object([:]))
        let jobs = try lab.applyAndRunJobs(result)
        #expect(jobs.first?.state == .failed)
        let error = jobs.first?.error ?? ""
        #expect(error.contains("HTTP 412") && error.contains("changed since dploy read them"), "\(error)")
        #expect(!error.contains(lab.ilo.password))
        let writes = try await lab.writes()
        #expect(writes.count == 1 && writes.first?["ifMatch"]?.string == Self.dl360ETag)
    }

    @Test("a RAID job stopped after recording its request is never sent again: it fails saying why, and the next plan reads the controller anew")
    func interruptedRAIDIsNotResent() async throws {
        let lab = try Lab(tree: HPEMockups.dl360Gen10Plus, generation: 5)
        try await lab.ilo.control("/_fixture/add-disks", .object(["locations": .array([.string("1I:1:1"), .string("1I:1:2")])]))
        try lab.write(logicalDrives: "[\(Self.bootVolume), {name: logs, raid: Raid1, drives: [\"1I:1:1\", \"1I:1:2\"]}]")
        let result = try await lab.plan()
        let step = try #require(result.plan.actions.first { $0.kind == .configureRAID })
        // What a daemon killed right after recording its intent leaves behind.
        let planned = try #require(step.bmcJob(mac: nil, at: Date()))
        let job = try #require(try lab.store.enqueueBMCJob(planned))
        #expect(try lab.store.claimBMCJob(site: "default", at: Date())?.id == job.id)
        #expect(try lab.store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: Date(), status: "writing")))
        let jobs = try lab.runJobs()
        #expect(jobs.first?.state == .failed)
        #expect(jobs.first?.error?.contains("dploy stopped while this RAID change was sent") == true, "\(jobs)")
        #expect(try await lab.writes().isEmpty, "nothing sent after the restart")
        let again = try await lab.plan()
        #expect(Self.raidSteps(again).count == 1, "the controller still lacks it: planned again from a fresh read")
    }

    @Test("a reinstall of a newer generation allows the destructive change, planned before the boot-once and power cycle")
    func reinstallAllowsDestruction() async throws {
        let lab = try Lab(tree: HPEMockups.dl360Gen10Plus, generation: 5)
        try lab.write(logicalDrives: "[{name: BootVolume, raid: Raid0, drives: [\"2I:1:1\", \"2I:1:2\"]}]")
        let plain = try await lab.plan()
        #expect(Self.raidSteps(plain).isEmpty, "no reinstall, no allowDestructive: withheld")
        _ = try lab.applyAndRunJobs(plain)  // its boot files: a machine dploy already serves
        // Generation 1 installed (the store says so); the spec asks for generation 2 of a profile.
        let mac = MACAddress("52:54:00:00:03:01")!
        try lab.store.installStarted(mac, generation: 1, at: Date())
        #expect(try lab.store.installFinished(mac, generation: 1, at: Date()))
        try lab.folder.write("specs/profile.yaml", """
            apiVersion: dploy.org/v1
            kind: Profile
            metadata: {name: debian-12}
            spec:
              boot: {kernel: "http://198.18.0.1/linux", initrd: "http://198.18.0.1/initrd.gz"}

            """, mode: 0o644)
        try lab.write(logicalDrives: "[{name: BootVolume, raid: Raid0, drives: [\"2I:1:1\", \"2I:1:2\"]}]", extra: "  profile: debian-12\n  generation: 2")
        let reinstall = try await lab.plan()
        let kinds = reinstall.plan.actions.filter(\.needsBMC).map(\.kind)
        #expect(kinds == [.configureRAID, .bootOnceFromNetwork, .power], "\(reinstall.plan.text(color: false))")
        #expect(reinstall.plan.machines.first?.reasons.contains { $0.code == .raidDestructive && $0.message.contains("generation 2 reinstalls after it") } == true)
    }

    // MARK: iLO 6: DMTF Volumes

    @Test("iLO 6: a volume on the free bay is POSTed within Volumes/Capabilities; deleting volume 239 waits for allowDestructive, then is a DELETE")
    func dmtfCreateAndDelete() async throws {
        let lab = try Lab(tree: HPEMockups.dl380aGen11, generation: 6)
        let mirror = "{name: MR Volume 239, raid: Raid1, drives: [\"Slot=18:Port=1:Box=1:Bay=6\", \"Slot=18:Port=2:Box=1:Bay=7\"]}"
        try lab.write(logicalDrives: "[\(mirror), {name: scratch, raid: Raid0, drives: [\"Slot=18:Port=1:Box=1:Bay=5\"]}]")
        let create = try await lab.plan()
        let step = try #require(Self.raidSteps(create).first)
        #expect(step.interface == .volumes && !step.isDestructive && step.ifMatch == nil)
        #expect(create.plan.text(color: false).contains("bmc     raid HPE MR416i-o Gen11 (DE00B000): create scratch Raid0 Slot=18:Port=1:Box=1:Bay=5 (applies at once)"))
        #expect(try lab.applyAndRunJobs(create).map(\.state) == [.succeeded])
        let posts = try await lab.writes()
        #expect(posts.count == 1)
        #expect(posts.first?["method"]?.string == "POST")
        #expect(RedfishPath.same(posts.first?["path"]?.string ?? "", "/redfish/v1/Systems/1/Storage/DE00B000/Volumes"))
        #expect(posts.first?["body"] == .object(["RAIDType": .string("RAID0"), "DisplayName": .string("scratch"),
                                                 "Links": .object(["Drives": .array([.object(["@odata.id": .string("/redfish/v1/Chassis/DE00B000/Drives/2")])])])]))
        let settled = try await lab.plan()
        #expect(Self.raidSteps(settled).isEmpty && settled.plan.notes.isEmpty, "\(settled.plan.notes)")

        // Volume 239 left out of the spec: destroying it needs allowDestructive.
        try lab.write(logicalDrives: "[{name: scratch, raid: Raid0, drives: [\"Slot=18:Port=1:Box=1:Bay=5\"]}]")
        let withheld = try await lab.plan()
        #expect(Self.raidSteps(withheld).isEmpty)
        #expect(withheld.plan.notes.map(\.code) == [.raidDestructiveWithheld])
        _ = try lab.applyAndRunJobs(withheld)
        #expect(try await lab.writes().count == 1, "no DELETE without allowDestructive")

        try lab.write(logicalDrives: "[{name: scratch, raid: Raid0, drives: [\"Slot=18:Port=1:Box=1:Bay=5\"]}]", extra: "  allowDestructive: true")
        let destroy = try await lab.plan()
        #expect(Self.raidSteps(destroy).first?.delete.map(\.id) == ["/redfish/v1/Systems/1/Storage/DE00B000/Volumes/239"])
        #expect(try lab.applyAndRunJobs(destroy).map(\.state) == [.succeeded, .succeeded])
        let last = try #require(try await lab.writes().last)
        #expect(last["method"]?.string == "DELETE")
        #expect(RedfishPath.same(last["path"]?.string ?? "", "/redfish/v1/Systems/1/Storage/DE00B000/Volumes/239"))
        let done = try await lab.plan()
        #expect(Self.raidSteps(done).isEmpty && done.plan.notes.isEmpty, "\(done.plan.notes)")
    }

    @Test("iLO 6: a RAID level Volumes/Capabilities does not list, or a drive the controller lacks, withholds the step with the spec's line; nothing is sent")
    func dmtfInvalid() async throws {
        let lab = try Lab(tree: HPEMockups.dl380aGen11, generation: 6)
        let mirror = "{name: MR Volume 239, raid: Raid1, drives: [\"Slot=18:Port=1:Box=1:Bay=6\", \"Slot=18:Port=2:Box=1:Bay=7\"]}"
        try lab.write(logicalDrives: "[\(mirror), {name: triple, raid: Raid1ADM, count: 3, media: SSD}]")
        let result = try await lab.plan()
        #expect(Self.raidSteps(result).isEmpty)
        let notes = result.plan.notes.filter { $0.code == .raidInvalid }.map(\.message)
        #expect(notes.count == 1 && notes[0].hasPrefix("db-01: RAID withheld: ")
                && notes[0].contains("specs/db-01.yaml:8:20: 'triple': HPE MR416i-o Gen11 (DE00A000) does not create Raid1ADM (Volumes/Capabilities allows Raid0, Raid1, Raid10, Raid5, Raid50, Raid6, Raid60)"),
                "\(notes)")

        try lab.write(logicalDrives: "[\(mirror), {name: extra, raid: Raid0, drives: [\"1I:1:9\"]}]")
        let missing = try await lab.plan()
        #expect(Self.raidSteps(missing).isEmpty)
        #expect(missing.plan.notes.first?.message.contains("'extra': no controller has drive 1I:1:9 (the BMC lists Slot=17:Port=1:Box=1:Bay=1, ") == true,
                "\(missing.plan.notes)")
        _ = try lab.applyAndRunJobs(missing)
        #expect(try await lab.writes().isEmpty)
    }
}
