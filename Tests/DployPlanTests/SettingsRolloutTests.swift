import DployController
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
@Suite("BIOS and RAID rollouts in the plan", .ownThread)
struct SettingsRolloutTests {
    /// n1 … n5 in group `rack` with `rollout`, each with a BMC but `withoutBMC`; the group's
    /// defaults are `defaults`. n6 writes its BIOS itself: no rollout governs it.
    static func desired(rollout: String, defaults: String, withoutBMC: Int? = nil) throws -> DesiredState {
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
                \(index == withoutBMC ? "" : "  bmc: {address: \"https://198.18.0.\(100 + index)\", credentials: ilo}")
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
    static let storage = #"{storage: {logicalDrives: [{name: data, raid: Raid1, drives: ["1I:1:1", "1I:1:2"]}]}}"#
    static let data = ObservedLogicalDrive(name: "data", raid: .Raid1, raidText: "Raid1", drives: ["1I:1:1", "1I:1:2"], id: "600508B1001C0001")

    /// A Smart Array with four SSDs, its logical drives `built` and `pending` for the next reboot.
    static func array(built: [ObservedLogicalDrive], pending: [ObservedLogicalDrive] = []) -> ObservedStorage {
        ObservedStorage(controllers: [ObservedController(
            interface: .smartStorageConfig, name: "HPE P408i-a (Slot 0)", isSmartArray: true,
            target: "/redfish/v1/systems/1/smartstorageconfig/settings/", logicalDrives: built, pending: pending, settingsETag: "W/\"1\"",
            drives: (1...4).map { ObservedDrive(location: "1I:1:\($0)", media: .SSD) })])
    }
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

    @Test("a failed canary whose BIOS can no longer be read still counts: the rollout halts and wave 1 waits")
    func failedAndUnreadCounts() throws {
        let desired = try Self.desired(rollout: #"{canaries: 1, waves: ["100%"], maxFailures: 0}"#, defaults: Self.bios)
        var observed = Self.observedBIOS()
        observed.bmcJobs["n1"] = [Self.job(1, "n1", .failed)]
        observed.bios[Self.mac(1)] = nil
        observed.biosUnread[Self.mac(1)] = "HTTP 500"
        let plan = try Self.plan(desired, observed)
        #expect(Self.starting(plan, .setBIOSAttributes) == ["n6"], "\(plan.notes)")
        #expect(plan.notes.contains { $0.code == .rolloutHalted }, "\(plan.notes)")
    }

    @Test("once a rollout is over, its failed member's BIOS write is not queued again at every run")
    func failedHeldAfterTheEnd() throws {
        let desired = try Self.desired(rollout: "{maxFailures: 1}", defaults: Self.bios)
        var observed = Self.observedBIOS()
        for index in 2...5 {
            observed.bmcJobs["n\(index)"] = [Self.job(Int64(index), "n\(index)", .succeeded)]
            observed.bios[Self.mac(index)] = Self.reading(pending: "Disabled")
        }
        observed.bmcJobs["n1"] = [Self.job(1, "n1", .failed)]
        let over = try Self.plan(desired, observed)
        #expect(Self.starting(over, .setBIOSAttributes) == ["n6"], "\(over.machines.map { ($0.machine, $0.actions.map(\.kind)) })")
        #expect(!over.notes.contains { $0.code == .rolloutPhase }, "a rollout that is over says nothing more: \(over.notes)")
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
                                             + "nothing more starts until `dploy rollout resume group/rack` or the group's defaults change a value a failed job wrote")), "\(halted.notes)")
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

    @Test("members the settings cannot reach do not hold the rollout: no BMC address leaves a machine out, a BIOS without the attribute is not counted; never read, or a failed read, holds it")
    func unreachableMembers() throws {
        // n1 has no BMC address: not a member, so n2 is the canary.
        let desired = try Self.desired(rollout: #"{canaries: 1, waves: ["100%"]}"#, defaults: Self.bios, withoutBMC: 1)
        var observed = Self.observedBIOS()
        let first = try Self.plan(desired, observed)
        #expect(first.notes.contains(Reason(.rolloutPhase, "rollout group/rack, canaries: n2: under way: 0 of 1 done; starting now: n2")), "\(first.notes)")

        // n2's BIOS does not list the attribute: withheld until someone acts, so not counted; wave 1 starts.
        observed.bios[Self.mac(2)] = ObservedBIOS(current: ["Sriov": .string("Enabled")], pending: [:])
        let invalid = try Self.plan(desired, observed)
        #expect(Self.starting(invalid, .setBIOSAttributes) == ["n3", "n4", "n5", "n6"], "\(invalid.notes)")
        #expect(invalid.notes.contains(Reason(.rolloutPhase, "rollout group/rack, canaries: n2: done; not counted, until someone acts: n2 (BIOS withheld: biosInvalid)")),
                "\(invalid.notes)")

        // n2's BIOS could not be read (an iLO answers errors while its machine reboots, often
        // just after a BIOS write): whether it is done is not known, so the canary holds the wave,
        // as one never read does.
        observed.bios[Self.mac(2)] = nil
        for error in ["HTTP 500", nil] {
            observed.biosUnread[Self.mac(2)] = error
            let unread = try Self.plan(desired, observed)
            #expect(Self.starting(unread, .setBIOSAttributes) == ["n6"], "\(error ?? "never read"): \(unread.notes)")
            #expect(unread.notes.contains(Reason(.rolloutPhase,
                "rollout group/rack, canaries: n2: under way: 0 of 1 done; BMC settings not read (the phase waits for a reading; a read that failed is tried again): n2")),
                "\(unread.notes)")
        }
    }

    @Test("a destructive RAID change without permission is not counted, and its phase's note says so")
    func destructiveWithoutPermission() throws {
        let desired = try Self.desired(rollout: #"{canaries: 1}"#, defaults: Self.storage)
        var observed = ObservedState()
        for index in 1...5 { observed.storage[Self.mac(index)] = Self.array(built: []) }
        // n1 holds the group's drive and one it does not list: deleting that needs allowDestructive (or a reinstall).
        observed.storage[Self.mac(1)] = Self.array(built: [Self.data, ObservedLogicalDrive(name: "old", raid: .Raid0, raidText: "Raid0", drives: ["1I:1:3"], id: "600508B1001C0009")])
        let plan = try Self.plan(desired, observed)
        #expect(plan.notes.contains(Reason(.rolloutPhase, "rollout group/rack, canaries: n1: done; not counted, until someone acts: n1 (RAID withheld: raidDestructiveWithheld)")),
                "\(plan.notes)")
        #expect(Self.starting(plan, .configureRAID) == ["n2", "n3", "n4", "n5"], "\(plan.notes)")
    }

    @Test("a failure whose settings were set since, and a job skipped after another rollout's failure, do not halt the rollout")
    func failuresStillOwed() throws {
        let desired = try Self.desired(rollout: "{maxParallel: 1, maxFailures: 0}", defaults: Self.bios)
        var observed = Self.observedBIOS()
        // n1's write failed, but its BIOS now reports the value pending (set by hand, or the write got through).
        observed.bmcJobs["n1"] = [Self.job(7, "n1", .failed)]
        observed.bios[Self.mac(1)] = Self.reading(pending: "Disabled")
        let applied = try Self.plan(desired, observed)
        #expect(!applied.notes.contains { $0.code == .rolloutHalted }, "\(applied.notes)")
        #expect(Self.starting(applied, .setBIOSAttributes) == ["n2", "n6"])

        // n1's BIOS job was skipped because a flash of it failed: that failure is the baseline's, not this rollout's.
        observed.bios[Self.mac(1)] = Self.reading()
        var skipped = Self.job(7, "n1", .skipped)
        skipped.error = "not run: job 6 (firmware iLO 5 3.08) of this machine failed"
        observed.bmcJobs["n1"] = [skipped]
        let afterSkip = try Self.plan(desired, observed)
        #expect(!afterSkip.notes.contains { $0.code == .rolloutHalted }, "\(afterSkip.notes)")
        #expect(Self.starting(afterSkip, .setBIOSAttributes) == ["n1", "n6"], "planned again, as a skipped BIOS write is")
    }
}

/// A reinstall's boot-once and power cycle go after its BIOS and RAID steps (so that they are
/// pending at that reboot): when a group's rollout holds those, the reinstall waits with them.
@Suite("A reinstall waits for its group's held BIOS and RAID steps", .ownThread)
struct ReinstallRolloutTests {
    let web02 = MACAddress("94:18:82:3a:5c:2e")!

    /// The example lab with group web's defaults given `storage` and `bios`, rolled out on
    /// Tuesdays 02:00–06:00, planned once and applied; web-02 is a generation behind.
    func lab() throws -> (LabCopy, Reconciler, ObservedState) {
        let lab = try LabCopy(config: LabCopy.config())
        let groups = try lab.read("groups.yaml")
        try lab.write("groups.yaml", groups
            .replacingOccurrences(of: "  selector: {role: web}\n", with: "  selector: {role: web}\n  rollout: {window: {days: [tue], from: \"02:00\", to: \"06:00\"}}\n")
            .replacingOccurrences(of: "    profile: debian-12\n", with: "    profile: debian-12\n    \(SettingsRolloutTests.storage.dropFirst().dropLast())\n"
                                  + "    bios: {attributes: {ProcHyperthreading: Disabled}}\n"))
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        var observed = try reconciler.observe()
        observed.installedGenerations[web02] = 0
        observed.bios[web02] = SettingsRolloutTests.reading(pending: "Disabled")
        observed.storage[web02] = SettingsRolloutTests.array(built: [SettingsRolloutTests.data])
        return (lab, reconciler, observed)
    }

    func steps(_ reconciler: Reconciler, _ observed: ObservedState) throws -> (kinds: [Action.Kind], notes: [Reason]) {
        let plan = try Planner.plan(desired: try reconciler.loadDesired(), observed: observed, settings: reconciler.settings).plan
        let web = plan.machines.first { $0.machine == "web-02" }
        return (web?.actions.filter(\.needsBMC).map(\.kind) ?? [], plan.notes)
    }

    @Test("outside the window: neither the RAID change (a deletion the reinstall permits) nor the reinstall; inside it, both, in order")
    func raidHeld() throws {
        let (copy, reconciler, base) = try lab()
        defer { withExtendedLifetime(copy) {} }
        var observed = base
        observed.storage[web02] = SettingsRolloutTests.array(built: [ObservedLogicalDrive(name: "old", raid: .Raid0, raidText: "Raid0", drives: ["1I:1:3"], id: "600508B1001C0009")])
        observed.now = try Date("2026-12-07T12:00:00Z", strategy: .iso8601)
        let monday = try steps(reconciler, observed)
        #expect(monday.kinds.isEmpty, "\(monday)")
        #expect(monday.notes.contains(Reason(.rolloutWaiting, "web-02: its reinstall waits too: its BIOS and RAID settings go first (rollout group/web)")),
                "\(monday.notes)")
        observed.now = try Date("2026-12-08T02:30:00Z", strategy: .iso8601)
        #expect(try steps(reconciler, observed).kinds == [.configureRAID, .bootOnceFromNetwork, .power])
    }

    @Test("outside the window: neither the BIOS write nor the reinstall")
    func biosHeld() throws {
        let (copy, reconciler, base) = try lab()
        defer { withExtendedLifetime(copy) {} }
        var observed = base
        observed.bios[web02] = SettingsRolloutTests.reading()
        observed.now = try Date("2026-12-07T12:00:00Z", strategy: .iso8601)
        #expect(try steps(reconciler, observed).kinds.isEmpty)
        // Settings as the group asks: the reinstall goes whatever the window.
        observed.bios[web02] = SettingsRolloutTests.reading(pending: "Disabled")
        #expect(try steps(reconciler, observed).kinds == [.bootOnceFromNetwork, .power])
    }
}

/// The rule the plan's gate and a worker's claim share (`Rollout`): which rollout governs a
/// job, how its names tell baselines from groups, and which failures count.
@Suite("Rollout: names, governing, failures", .ownThread)
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
