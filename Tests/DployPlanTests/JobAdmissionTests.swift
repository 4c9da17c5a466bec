@testable import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// `JobAdmission` at a worker's claim, on a real SQLite store: a queued flash or RAID change
/// whose rollout has halted since it was queued, or whose window has closed, is refused
/// (the runner cancels it unsent); a resume lets it through. BIOS, through a real iLO
/// fixture, is `SettingsRolloutHaltTests`.
@Suite("Jobs refused at claim when their rollout halted or its window closed", .ownThread)
struct JobAdmissionTests {
    static let drive = LogicalDriveSpec(name: "data", raid: .Raid1, drives: .count(2, media: .SSD))

    /// n1 … n3 on baseline gen10 (rollout `firmware`) and in group rack (rollout `raid`, whose
    /// defaults give them a Raid1 of two SSDs).
    static func fleet(firmware: String, raid: String) throws -> Fleet {
        var text = """
            apiVersion: dploy.org/v1
            kind: FirmwareBaseline
            metadata: {name: gen10}
            spec:
              models: ["ProLiant DL360 Gen10"]
              components:
                - {name: "iLO 5", version: "3.08", image: "http://198.18.0.1/fw/ilo5.fwpkg", sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
              rollout: \(firmware)
            ---
            apiVersion: dploy.org/v1
            kind: Group
            metadata: {name: rack}
            spec:
              selector: {rack: r1}
              rollout: \(raid)
              defaults: {storage: {logicalDrives: [{name: data, raid: Raid1, count: 2, media: SSD}]}}

            """
        for index in 1...3 {
            text += """
                ---
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: n\(index), labels: {rack: r1}}
                spec:
                  mac: "52:54:00:00:07:0\(index)"
                  firmware: gen10
                  bmc: {address: "https://198.18.0.\(110 + index)", credentials: ilo}

                """
        }
        let result = SpecLoader().load([SpecFile(path: "fleet.yaml", text: text)])
        guard result.isValid else { throw ToolFailure(message: result.diagnostics.map(\.description).joined(separator: "\n")) }
        return result.fleet
    }

    static func flash(_ machine: String) -> Action {
        .updateFirmware(machine: machine, FirmwareTarget(component: "iLO 5", installed: "2.96", version: "3.08", image: "http://198.18.0.1/fw/ilo5.fwpkg",
                                                         sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
                        reason: Reason(.firmwareDrift, "iLO 5 2.96 → 3.08"))
    }

    static func raid(_ machine: String, creating drive: LogicalDriveSpec = drive) -> Action {
        .configureRAID(machine: machine, RAIDChange(controller: "HPE P408i-a (Slot 0)", interface: .smartStorageConfig,
                                                    target: "/redfish/v1/systems/1/smartstorageconfig/settings/", keep: [], delete: [],
                                                    create: [drive], ifMatch: nil),
                       reason: Reason(.raidDrift, "1 logical drive to create"))
    }

    /// Queues `action`'s job at `queuedAt` (else `failedAt`, else now); with `failedAt`, a
    /// worker takes it and it fails then.
    @discardableResult
    static func queue(_ action: Action, in store: any Store, queuedAt: Date? = nil, failedAt: Date? = nil) throws -> BMCJob {
        let toQueue = try #require(action.bmcJob(mac: nil, at: queuedAt ?? failedAt ?? Date()))
        let job = try #require(try store.enqueueBMCJob(toQueue))
        if let failedAt { try fail(job, in: store, at: failedAt) }
        return job
    }

    /// A worker takes `job` (the oldest queued) and it fails at `at`.
    static func fail(_ job: BMCJob, in store: any Store, at: Date) throws {
        #expect(try store.claimBMCJob(site: Site.defaultName, at: at)?.id == job.id)
        #expect(try store.finishBMCJob(job.id, .failed, error: "Error", at: at))
    }

    @Test("a flash taken while its machine installs is refused; another machine's install does not hold it; once the install ended, it goes")
    func notUnderAnInstaller() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{maxFailures: 0}", raid: "{maxFailures: 0}")
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let n1 = MACAddress("52:54:00:00:07:01")!, n2 = MACAddress("52:54:00:00:07:02")!
        // n1: an earlier generation finished, the newest is under way; n2: its install ended.
        try store.installStarted(n1, generation: 1, at: now.addingTimeInterval(-7200))
        #expect(try store.installFinished(n1, generation: 1, at: now.addingTimeInterval(-7000)))
        try store.installStarted(n1, generation: 2, at: now.addingTimeInterval(-60))
        try store.installStarted(n2, generation: 1, at: now.addingTimeInterval(-600))
        #expect(try store.installFinished(n2, generation: 1, at: now.addingTimeInterval(-300)))
        let admission = JobAdmission(fleet: fleet, store: store, now: now)
        let underInstaller = try Self.queue(Self.flash("n1"), in: store)
        #expect(admission.refusal(for: underInstaller)
                == "the machine is installing generation 2: no flash or RAID change runs under an installer")
        #expect(admission.refusal(for: try Self.queue(Self.flash("n2"), in: store)) == nil)
        #expect(admission.refusal(for: try Self.queue(Self.flash("n3"), in: store)) == nil, "never installed")
        try store.installFailed(n1, generation: 2, reason: "the installer stopped", at: now.addingTimeInterval(10))
        #expect(admission.refusal(for: underInstaller) == nil, "a failed install is over too")
    }

    @Test("a flash queued before the rollout halted is refused at claim, with the failures and the resume to run; resumed, it goes")
    func firmwareHalted() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{maxFailures: 0}", raid: "{maxFailures: 0}")
        let failedAt = Date(timeIntervalSince1970: 1_795_000_000)
        // Queued with n1's by the same plan, before n1's failed.
        let n1 = try Self.queue(Self.flash("n1"), in: store, queuedAt: failedAt.addingTimeInterval(-60))
        let queued = try Self.queue(Self.flash("n2"), in: store, queuedAt: failedAt.addingTimeInterval(-60))
        try Self.fail(n1, in: store, at: failedAt)
        let admission = JobAdmission(fleet: fleet, store: store, now: failedAt.addingTimeInterval(30))
        #expect(admission.refusal(for: queued) == "rollout gen10 is halted: 1 failed, more than maxFailures 0 (n1 (job 1)); `dploy rollout resume gen10` continues it")
        // A failed flash halts the baseline's rollout, not the group's: its RAID change goes.
        #expect(admission.refusal(for: try Self.queue(Self.raid("n3"), in: store)) == nil)

        try store.resumeRollout("gen10", at: failedAt.addingTimeInterval(60))
        #expect(admission.refusal(for: queued) == nil)
    }

    @Test("RAID: failures up to maxFailures let queued changes go, one more refuses them; a failure for other drives than the group's does not count")
    func raidHalted() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{}", raid: "{maxFailures: 1}")
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        var other = Self.drive
        other.name = "scratch"
        try Self.queue(Self.raid("n1", creating: other), in: store, failedAt: at)
        try Self.queue(Self.raid("n2"), in: store, failedAt: at)
        let admission = JobAdmission(fleet: fleet, store: store, now: at.addingTimeInterval(30))
        // (Asked of n3's job before it is queued: a worker takes the oldest queued job first.)
        let n3 = try #require(Self.raid("n3").bmcJob(mac: nil, at: at))
        #expect(admission.refusal(for: n3) == nil, "one failure counts (n2's), maxFailures 1 tolerates it")
        let n1 = try Self.queue(Self.raid("n1"), in: store, queuedAt: at)
        let queued = try Self.queue(Self.raid("n3"), in: store, queuedAt: at)
        try Self.fail(n1, in: store, at: at.addingTimeInterval(10))
        #expect(admission.refusal(for: queued)?.hasPrefix("rollout group/rack is halted: 2 failed, more than maxFailures 1 (n1 (job 3), n2 (job 2))") == true,
                "\(String(describing: admission.refusal(for: queued)))")
    }

    @Test("a RAID change taken after its group's window closed is refused, and says when it opens")
    func raidWindowClosed() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{}", raid: #"{window: {days: [tue], from: "02:00", to: "03:00"}}"#)
        let queued = try Self.queue(Self.raid("n1"), in: store)
        let tuesday = try Date("2026-12-08T02:30:00Z", strategy: .iso8601)
        #expect(JobAdmission(fleet: fleet, store: store, now: tuesday).refusal(for: queued) == nil)
        #expect(JobAdmission(fleet: fleet, store: store, now: tuesday.addingTimeInterval(3600)).refusal(for: queued)
                == "rollout group/rack is outside its window (tue 02:00–03:00 UTC) now; it opens next at 2026-12-15T02:00:00Z")
    }

    @Test("failures the plan saw when it queued the job are its word; one since, with a flash the stored inventory shows still owed, halts")
    func planDecidedBeforeQueue() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{maxFailures: 0}", raid: "{}")
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        try Self.queue(Self.flash("n1"), in: store, failedAt: at)
        // Queued after n1's failure: the plan counted it no failure (it had its readings).
        let n3 = try Self.queue(Self.flash("n3"), in: store, queuedAt: at.addingTimeInterval(30))
        let queued = try Self.queue(Self.flash("n2"), in: store, queuedAt: at.addingTimeInterval(60))
        let admission = JobAdmission(fleet: fleet, store: store, now: at.addingTimeInterval(120))
        #expect(admission.refusal(for: queued) == nil)
        // n3's flash fails after n2's was queued: now both count.
        try Self.fail(n3, in: store, at: at.addingTimeInterval(90))
        #expect(admission.refusal(for: queued)?.hasPrefix("rollout gen10 is halted: 2 failed, more than maxFailures 0 (n1 (job 1), n3 (job 2))") == true,
                "\(String(describing: admission.refusal(for: queued)))")

        // The stored inventory says n3's flash applied after all: it no longer counts (n1's is the plan's word).
        try store.recordBMCReadings([Self.reading(3, model: "ProLiant DL360 Gen10", iLO: "3.08", at: at)])
        #expect(admission.refusal(for: queued) == nil)
        // Read again: n3 reports the old version, so its flash is owed and its failure counts again.
        try store.recordBMCReadings([Self.reading(3, model: "ProLiant DL360 Gen10", iLO: "2.96", at: at)])
        #expect(admission.refusal(for: queued) != nil)
    }

    /// A BMC reading as the loop stores it: the model and the iLO's version.
    static func reading(_ index: Int, model: String, iLO: String, at: Date) -> BMCRecord {
        BMCRecord(mac: MACAddress("52:54:00:00:07:0\(index)")!, readAt: at, model: model,
                  firmware: ObservedFirmware(model: model, versions: ["iLO 5": iLO]))
    }

    @Test("a machine of a model the baseline does not list is no member at claim either: its failure does not count")
    func modelLeftOut() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{maxFailures: 1}", raid: "{}")
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        let n1 = try Self.queue(Self.flash("n1"), in: store, queuedAt: at.addingTimeInterval(-60))
        let n3 = try Self.queue(Self.flash("n3"), in: store, queuedAt: at.addingTimeInterval(-60))
        let queued = try Self.queue(Self.flash("n2"), in: store, queuedAt: at.addingTimeInterval(-60))
        try Self.fail(n1, in: store, at: at)
        try Self.fail(n3, in: store, at: at)
        let admission = JobAdmission(fleet: fleet, store: store, now: at.addingTimeInterval(60))
        #expect(admission.refusal(for: queued)?.hasPrefix("rollout gen10 is halted: 2 failed") == true)
        // n1 is a DL380 Gen11, which gen10 does not list: the plan leaves it out, and so does the claim.
        try store.recordBMCReadings([Self.reading(1, model: "ProLiant DL380 Gen11", iLO: "1.10", at: at)])
        #expect(admission.refusal(for: queued) == nil)
    }

    @Test("a job `dploy jobs retry` queued again goes through the halt; the others of the rollout stay cancelled")
    func retryPassesHalt() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{maxFailures: 0}", raid: "{}")
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        let failed = try Self.queue(Self.flash("n1"), in: store, queuedAt: at.addingTimeInterval(-60))
        let n3 = try Self.queue(Self.flash("n3"), in: store, queuedAt: at.addingTimeInterval(-60))
        let queued = try Self.queue(Self.flash("n2"), in: store, queuedAt: at.addingTimeInterval(-60))
        try Self.fail(failed, in: store, at: at)
        let retried = try #require(try store.retryBMCJob(failed.id, at: at.addingTimeInterval(30)).first)
        // n3's flash fails after the retry was queued: halted, for the plan and the claim alike.
        try Self.fail(n3, in: store, at: at.addingTimeInterval(40))
        let admission = JobAdmission(fleet: fleet, store: store, now: at.addingTimeInterval(60))
        #expect(admission.refusal(for: retried) == nil)
        #expect(admission.refusal(for: queued) == "rollout gen10 is halted: 1 failed, more than maxFailures 0 (n3 (job 2)); `dploy rollout resume gen10` continues it")
    }

    @Test("a reinstall's boot-once and cycle queued behind a RAID change that was cancelled are cancelled too; other boot and power steps go")
    func reinstallAfterCancelledSettings() throws {
        let folder = try TemporaryFolder(prefix: "dploy-admission")
        let store = try SQLiteStore(path: folder.file("dploy.db"))
        let fleet = try Self.fleet(firmware: "{}", raid: #"{window: {days: [tue], from: "02:00", to: "03:00"}}"#)
        let at = try Date("2026-12-08T02:59:00Z", strategy: .iso8601)
        let start = Reason(.generationBehind, "start the reinstall of generation 2")
        // One plan queued them in this order, inside the window.
        let raid = try Self.queue(Self.raid("n1"), in: store, queuedAt: at)
        let boot = try Self.queue(.bootOnceFromNetwork(machine: "n1", reason: start), in: store, queuedAt: at)
        let cycle = try Self.queue(.power(machine: "n1", .cycle, reason: start), in: store, queuedAt: at)
        let powerOn = try Self.queue(.power(machine: "n2", .on, reason: Reason(.powerDrift, "power drift")), in: store, queuedAt: at)
        // A worker takes the RAID change after the window closed: cancelled.
        let later = at.addingTimeInterval(120)
        let admission = JobAdmission(fleet: fleet, store: store, now: later)
        let reason = try #require(admission.refusal(for: raid))
        #expect(try store.claimBMCJob(site: Site.defaultName, at: later)?.id == raid.id)
        #expect(try store.finishBMCJob(raid.id, .cancelled, error: reason, at: later))
        #expect(admission.refusal(for: boot) == "job \(raid.id) (raid HPE P408i-a (Slot 0)), which had to run before this reinstall, was cancelled: "
                + "the next plan starts the reinstall again after it")
        #expect(admission.refusal(for: cycle) != nil)
        #expect(admission.refusal(for: powerOn) == nil, "not a reinstall")
        // Queued again by a later plan (with the RAID change before it): the old cancellation is not its business.
        let again = try Self.queue(.bootOnceFromNetwork(machine: "n1", reason: Reason(.generationBehind, "start the reinstall of generation 3")),
                                   in: store, queuedAt: later.addingTimeInterval(60))
        #expect(admission.refusal(for: again) == nil)
    }
}
