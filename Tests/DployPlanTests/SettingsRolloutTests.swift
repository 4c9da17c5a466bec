import DployInventory
import DployPlan
import DployRender
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// A Group's `rollout` over the BIOS and RAID settings of its defaults, planned without a BMC
/// (the planner is pure): canaries strictly before wave 1, `maxParallel`, the halt after
/// `maxFailures` and its resume, the window at a given time of day, and when a member is done.
@Suite("BIOS and RAID rollouts in the plan")
struct SettingsRolloutTests {
    /// n1 … n5 in group `rack` with `rollout`, each with a BMC; the group's defaults are `defaults`.
    /// n6 writes its BIOS itself: no rollout governs it.
    static func desired(rollout: String, defaults: String) throws -> DesiredState {
        var text = """
            apiVersion: dploy.org/v1
            kind: Group
            metadata: {name: rack}
            spec:
              selector: {rack: r1}
              rollout: \(rollout)
              defaults: \(defaults)

            """
        for index in 1...6 {
            text += """
                ---
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: n\(index), labels: {rack: r\(index == 6 ? 2 : 1)}}
                spec:
                  mac: "52:54:00:00:05:0\(index)"
                  bmc: {address: "https://198.18.0.\(100 + index)", credentials: ilo}
                \(index == 6 ? "  bios: {attributes: {ProcHyperthreading: Disabled}}\n" : "")
                """
        }
        let result = SpecLoader().load([SpecFile(path: "fleet.yaml", text: text)])
        guard result.isValid else { throw ToolFailure(message: result.diagnostics.map(\.description).joined(separator: "\n")) }
        return DesiredState(fleet: result.fleet, templates: [:], source: "test")
    }

    static func mac(_ index: Int) -> MACAddress { MACAddress("52:54:00:00:05:0\(index)")! }
    static let settings = PlanSettings(server: BootServer(url: "http://198.18.0.1:8080"), dhcp: nil)

    static let bios = "{bios: {attributes: {ProcHyperthreading: Disabled}}}"
    /// The BIOS as read: hyperthreading on, and `pending` for the next reboot.
    static func reading(pending: String = "Enabled") -> ObservedBIOS {
        ObservedBIOS(current: ["ProcHyperthreading": .string("Enabled")], pending: ["ProcHyperthreading": .string(.init(pending))])
    }

    /// Every machine's BIOS read as not yet changed.
    static func observedBIOS() -> ObservedState {
        var observed = ObservedState()
        for index in 1...6 { observed.bios[mac(index)] = reading() }
        return observed
    }

    static func plan(_ desired: DesiredState, _ observed: ObservedState) throws -> Plan {
        try Planner.plan(desired: desired, observed: observed, settings: settings).plan
    }

    /// The machines whose plan holds a step of `kind`, in name order.
    static func starting(_ plan: Plan, _ kind: Action.Kind) -> [String] {
        plan.machines.filter { $0.actions.contains { $0.kind == kind } }.map(\.machine)
    }

    static func job(_ id: Int64, _ machine: String, _ state: BMCJobState, at: Date = Date(timeIntervalSince1970: 1_795_000_000),
                    desired: String = "Disabled") -> BMCJob {
        let action = Action.setBIOSAttributes(machine: machine, [BIOSChange(name: "ProcHyperthreading", current: .string("Enabled"), desired: .string(desired))],
                                              ifMatch: nil, reason: Reason(.biosDrift, "1 BIOS attribute differs"))
        var job = action.bmcJob(mac: nil, at: at)!
        job.id = id
        job.state = state
        if !state.isActive { job.finishedAt = at }
        if state == .failed { job.error = "iLO said no" }
        return job
    }

    @Test("the canary's BIOS write goes alone; wave 1 starts once the canary's BMC reports the settings pending, no reboot needed")
    func canariesBeforeWave() throws {
        let desired = try Self.desired(rollout: #"{canaries: 1, waves: ["50%", "100%"]}"#, defaults: Self.bios)
        var observed = Self.observedBIOS()
        let first = try Self.plan(desired, observed)
        // n6 writes its own BIOS: no rollout holds it.
        #expect(Self.starting(first, .setBIOSAttributes) == ["n1", "n6"])
        #expect(first.notes.contains(Reason(.rolloutPhase, "rollout group/rack, canaries: n1: under way: 0 of 1 done; starting now: n1")), "\(first.notes)")
        #expect(first.notes.contains(Reason(.rolloutPhase, "rollout group/rack, wave 1 (50%): n2, n3: after canaries finish and report the group's settings")))
        #expect(first.notes.contains(Reason(.rolloutPhase, "rollout group/rack, wave 2 (100%): n4, n5: after wave 1 (50%) finish and report the group's settings")))
        #expect(first.machines.first { $0.machine == "n2" }?.reasons.contains(Reason(.rolloutWaiting, "its BIOS and RAID steps wait for rollout group/rack (see its notes)")) == true)

        // The canary's write is in flight: still nothing else starts.
        observed.bmcJobs["n1"] = [Self.job(1, "n1", .running)]
        #expect(Self.starting(try Self.plan(desired, observed), .setBIOSAttributes) == ["n6"])
        // It succeeded, and its BMC was read again: the value is pending for the next reboot. Done.
        observed.bmcJobs["n1"] = [Self.job(1, "n1", .succeeded)]
        observed.bios[Self.mac(1)] = Self.reading(pending: "Disabled")
        let wave = try Self.plan(desired, observed)
        #expect(Self.starting(wave, .setBIOSAttributes) == ["n2", "n3", "n6"])
        #expect(wave.notes.contains(Reason(.rolloutPhase, "rollout group/rack, canaries: n1: done")))
    }

    @Test("maxParallel counts the BIOS writes in flight")
    func maxParallel() throws {
        let desired = try Self.desired(rollout: "{maxParallel: 2}", defaults: Self.bios)
        var observed = Self.observedBIOS()
        #expect(Self.starting(try Self.plan(desired, observed), .setBIOSAttributes) == ["n1", "n2", "n6"])
        observed.bmcJobs["n1"] = [Self.job(1, "n1", .queued)]
        let busy = try Self.plan(desired, observed)
        #expect(Self.starting(busy, .setBIOSAttributes) == ["n2", "n6"], "one in flight leaves one slot of 2")
        #expect(busy.notes.contains(Reason(.rolloutPhase,
            "rollout group/rack, wave 1 (100%): n1, n2, n3, n4, n5: under way: 0 of 5 done; 1 in flight; starting now: n2; 3 waiting for a free slot (maxParallel 2)")), "\(busy.notes)")
    }

    @Test("a failed BIOS write over maxFailures halts the rollout; a resume continues it, and an edit of the group's settings retries the failed one")
    func haltResumeEdit() throws {
        let desired = try Self.desired(rollout: "{maxParallel: 1, maxFailures: 0}", defaults: Self.bios)
        var observed = Self.observedBIOS()
        let failedAt = Date(timeIntervalSince1970: 1_795_000_000)
        observed.bmcJobs["n1"] = [Self.job(7, "n1", .failed, at: failedAt)]
        let halted = try Self.plan(desired, observed)
        #expect(Self.starting(halted, .setBIOSAttributes) == ["n6"], "nothing of the rollout starts, nor the failed one again")
        #expect(halted.notes.contains(Reason(.rolloutHalted, "rollout group/rack halted: 1 failed, more than maxFailures 0: n1 (job 7 failed: iLO said no); "
                                             + "nothing more starts until `dploy rollout resume group/rack` or the group's BIOS or RAID defaults change")), "\(halted.notes)")
        #expect(halted.machines.first { $0.machine == "n1" }?.reasons.contains {
            $0.code == .rolloutWaiting && $0.message.hasPrefix("its BIOS and RAID steps failed in rollout group/rack") } == true)

        // Resumed after the failure: the next member starts; the failed one is not written again on its own.
        observed.rolloutResumes["group/rack"] = failedAt.addingTimeInterval(60)
        let resumed = try Self.plan(desired, observed)
        #expect(Self.starting(resumed, .setBIOSAttributes) == ["n2", "n6"])
        #expect(!resumed.notes.contains { $0.code == .rolloutHalted })
        // A baseline of the same name is not this rollout: its resume does nothing here.
        observed.rolloutResumes = ["rack": failedAt.addingTimeInterval(60)]
        #expect(Self.starting(try Self.plan(desired, observed), .setBIOSAttributes) == ["n6"])

        // The group now asks for another value than the failed job did: n1 is pending again, and nothing halts.
        let edited = try Self.desired(rollout: "{maxParallel: 1, maxFailures: 0}", defaults: "{bios: {attributes: {ProcHyperthreading: Enabled-ish}}}")
        observed.rolloutResumes = [:]
        var reread = observed
        for index in 1...5 { reread.bios[Self.mac(index)] = ObservedBIOS(current: ["ProcHyperthreading": .string("Enabled")], pending: [:]) }
        let after = try Self.plan(edited, reread)
        #expect(Self.starting(after, .setBIOSAttributes) == ["n1", "n6"], "\(after.notes)")
        #expect(!after.notes.contains { $0.code == .rolloutHalted })
    }

    @Test("RAID: nothing starts outside the window, the canary starts inside it; a change pending for the reboot is not done, drives built are")
    func raidWindowAndDone() throws {
        let desired = try Self.desired(rollout: #"{canaries: 1, window: {days: [tue], from: "02:00", to: "06:00"}}"#,
                                       defaults: #"{storage: {logicalDrives: [{name: data, raid: Raid1, drives: ["1I:1:1", "1I:1:2"]}]}}"#)
        let data = ObservedLogicalDrive(name: "data", raid: .Raid1, raidText: "Raid1", drives: ["1I:1:1", "1I:1:2"], id: "600508B1001C0001")
        func array(built: [ObservedLogicalDrive], pending: [ObservedLogicalDrive]) -> ObservedStorage {
            ObservedStorage(controllers: [ObservedController(
                interface: .smartStorageConfig, name: "HPE P408i-a (Slot 0)", isSmartArray: true,
                target: "/redfish/v1/systems/1/smartstorageconfig/settings/", logicalDrives: built, pending: pending, settingsETag: "W/\"1\"",
                drives: (1...4).map { ObservedDrive(location: "1I:1:\($0)", media: .SSD) })])
        }
        var observed = ObservedState()
        for index in 1...5 { observed.storage[Self.mac(index)] = array(built: [], pending: []) }

        // Monday noon (2026-12-07): closed, and the note says when it opens.
        observed.now = try Date("2026-12-07T12:00:00Z", strategy: .iso8601)
        let closed = try Self.plan(desired, observed)
        #expect(Self.starting(closed, .configureRAID).isEmpty)
        #expect(closed.notes.contains(Reason(.rolloutWindowClosed,
            "rollout group/rack: outside its window (tue 02:00–06:00 UTC): nothing starts; it opens next at 2026-12-08T02:00:00Z")), "\(closed.notes)")
        // Tuesday 02:30: the canary alone.
        observed.now = try Date("2026-12-08T02:30:00Z", strategy: .iso8601)
        #expect(Self.starting(try Self.plan(desired, observed), .configureRAID) == ["n1"])

        // Its change is pending for the next reboot: the controller has not built it, so not done.
        observed.bmcJobs["n1"] = [BMCJob(id: 3, machine: "n1", mac: nil, kind: .raid, step: "raid HPE P408i-a (Slot 0)", payload: "{}",
                                         state: .succeeded, createdAt: observed.now!, finishedAt: observed.now!)]
        observed.storage[Self.mac(1)] = array(built: [], pending: [data])
        let pending = try Self.plan(desired, observed)
        #expect(Self.starting(pending, .configureRAID).isEmpty)
        #expect(pending.notes.contains { $0.code == .rolloutPhase && $0.message.contains("canaries: n1: under way: 0 of 1 done; not reporting the settings yet: n1 (RAID not built yet") },
                "\(pending.notes)")
        // Rebooted: the controller reports the logical drive. Wave 1 starts.
        observed.storage[Self.mac(1)] = array(built: [data], pending: [data])
        #expect(Self.starting(try Self.plan(desired, observed), .configureRAID) == ["n2", "n3", "n4", "n5"])
    }
}

/// The rule the plan's gate and a worker's claim share (`Rollout`): which rollout governs a
/// job, how its names tell baselines from groups, and which failures count.
@Suite("Rollout: names, governing, failures")
struct RolloutRuleTests {
    @Test("group/NAME names a group's rollout and NAME a baseline's; a job's kind picks the rollout that governs it")
    func namesAndGoverning() throws {
        let desired = try SettingsRolloutTests.desired(rollout: "{maxFailures: 0}",
                                                       defaults: #"{bios: {attributes: {Sriov: Enabled}}, storage: {logicalDrives: [{name: data, raid: Raid1, count: 2, media: SSD}]}}"#)
        let fleet = desired.fleet
        #expect(Rollout.named("group/rack", in: fleet)?.name == "group/rack")
        #expect(Rollout.named("rack", in: fleet) == nil, "no FirmwareBaseline 'rack'")
        let resolver = DefaultsResolver(groups: fleet.groups)
        let n1 = resolver.resolve(try #require(fleet.machine(named: "n1"))), n6 = resolver.resolve(try #require(fleet.machine(named: "n6")))
        #expect(Rollout.governing(.bios, of: n1, in: fleet)?.name == "group/rack")
        #expect(Rollout.governing(.raid, of: n1, in: fleet)?.name == "group/rack")
        #expect(Rollout.governing(.firmware, of: n1, in: fleet) == nil)
        #expect(Rollout.governing(.bios, of: n6, in: fleet) == nil, "n6 writes its own BIOS")
        #expect(Rollout.governing(.raid, of: n6, in: fleet) == nil, "n6 is not in the group")

        // A RAID job that failed creating what the group asks counts; one that asked for another drive does not.
        let rollout = try #require(Rollout.named("group/rack", in: fleet))
        func raidJob(_ drive: LogicalDriveSpec) -> BMCJob {
            let change = RAIDChange(controller: "HPE P408i-a (Slot 0)", interface: .smartStorageConfig, target: "/redfish/v1/systems/1/smartstorageconfig/settings/",
                                    keep: [], delete: [], create: [drive], ifMatch: nil)
            var job = Action.configureRAID(machine: "n1", change, reason: Reason(.raidDrift, "1 logical drive to create")).bmcJob(mac: nil, at: Date())!
            job.state = .failed
            job.finishedAt = Date()
            return job
        }
        let wanted = try #require(n1.settings.storage?.logicalDrives.first)
        var other = wanted
        other.name = "scratch"
        #expect(rollout.countsAsFailure(raidJob(wanted), of: n1, resumedAt: nil))
        #expect(!rollout.countsAsFailure(raidJob(other), of: n1, resumedAt: nil))
        #expect(!rollout.countsAsFailure(raidJob(wanted), of: n1, resumedAt: Date().addingTimeInterval(60)), "resumed after it")
    }
}
