import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Conditions from the example lab's specs and observations made up for each case: pure,
/// no tool needed.
@Suite("Machine conditions", .ownThread)
struct MachineConditionsTests {
    let fleet: Fleet
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)
    // web-01: profile debian-12, generation 0, power on, baseline gen10-2026-10, a BMC.
    let web01 = MACAddress("94:18:82:3a:5c:10")!

    init() throws {
        let lab = try LabCopy()
        fleet = try withExtendedLifetime(lab) { try lab.reconciler().loadDesired().fleet }
    }

    func conditions(_ name: String, observed: ObservedMachine? = nil, bmc: BMCRecord? = nil) throws -> [MachineCondition.Kind: MachineCondition] {
        let machine = try #require(fleet.machines.first { $0.name == name })
        let effective = DefaultsResolver(groups: fleet.groups).resolve(machine)
        let baseline = effective.settings.firmware.flatMap(fleet.firmwareBaseline(named:))
        let all = MachineConditions.evaluate(machine: effective, baseline: baseline, observed: observed, bmc: bmc)
        #expect(all.map(\.type) == MachineCondition.Kind.allCases, "every condition, always, in one order")
        return Dictionary(uniqueKeysWithValues: all.map { ($0.type, $0) })
    }

    func seen(_ state: MachineState, installed: Int? = nil, hardwareChanges: [String] = []) -> ObservedMachine {
        ObservedMachine(mac: web01, firstSeen: t0, lastSeen: t0 + 60, state: state, installedGeneration: installed,
                        hardware: Hardware(cpus: 2), hardwareReportedAt: t0 + 30, hardwareChanges: hardwareChanges)
    }

    func bmc(power: String?, firmware: [String: String]? = nil, error: String? = nil) -> BMCRecord {
        BMCRecord(mac: web01, readAt: t0 + 90, power: power, model: "HPE ProLiant DL360 Gen10", error: error,
                  firmware: firmware.map { ObservedFirmware(model: "ProLiant DL360 Gen10", versions: $0) })
    }

    @Test("a machine never seen: not installed, BMC not read, so not ready, and says why")
    func neverSeen() throws {
        let conditions = try self.conditions("web-01")
        #expect(conditions[.installed]?.status == .false && conditions[.installed]?.reason == .neverInstalled)
        #expect(conditions[.powerInSync]?.status == .unknown && conditions[.powerInSync]?.reason == .bmcNotRead)
        #expect(conditions[.firmwareInSync]?.reason == .firmwareNotRead)
        #expect(conditions[.hardwareChanged]?.status == .unknown && conditions[.hardwareChanged]?.reason == .noReport)
        let ready = try #require(conditions[.ready])
        #expect(ready.status == .false && ready.reason == .neverInstalled)
        #expect(ready.message.hasPrefix("Installed: "))
    }

    @Test("installed at the desired generation, power and firmware as desired: Ready, with the newest observation's time")
    func ready() throws {
        let conditions = try self.conditions("web-01", observed: seen(.installed, installed: 0),
                                             bmc: bmc(power: "On", firmware: ["System ROM": "U32 v2.90 (01/11/2024)", "iLO 5": "3.08 Jan 1 2026"]))
        #expect(conditions[.installed]?.reason == .generationInstalled)
        #expect(conditions[.powerInSync]?.status == .true && conditions[.powerInSync]?.observedAt == t0 + 90)
        #expect(conditions[.firmwareInSync]?.status == .true && conditions[.firmwareInSync]?.reason == .firmwareMatches)
        #expect(conditions[.hardwareChanged]?.status == .false && conditions[.hardwareChanged]?.observedAt == t0 + 30)
        let ready = try #require(conditions[.ready])
        #expect(ready.status == .true && ready.reason == .ready && ready.observedAt == t0 + 90)
    }

    @Test("drift the planner would correct is not in sync: power off, an old iLO; an unreadable BMC is unknown")
    func drift() throws {
        let drifting = try conditions("web-01", observed: seen(.installed, installed: 0),
                                      bmc: bmc(power: "Off", firmware: ["System ROM": "U32 v2.90", "iLO 5": "2.96 Aug 17 2023"]))
        #expect(drifting[.powerInSync]?.status == .false && drifting[.powerInSync]?.reason == .powerDrift)
        #expect(drifting[.powerInSync]?.message == "power is off, desired on")
        #expect(drifting[.firmwareInSync]?.status == .false && drifting[.firmwareInSync]?.message == "iLO 5 2.96 Aug 17 2023 → 3.08")
        #expect(drifting[.ready]?.status == .false && drifting[.ready]?.reason == .powerDrift)

        let unreadable = try conditions("web-01", observed: seen(.installed, installed: 0),
                                        bmc: bmc(power: nil, error: "198.18.0.121: connection refused"))
        #expect(unreadable[.powerInSync]?.status == .unknown && unreadable[.powerInSync]?.reason == .bmcUnreadable)
        #expect(unreadable[.ready]?.status == .unknown)
    }

    @Test("installing, a failed install and a generation behind are each their own reason")
    func installs() throws {
        #expect(try conditions("web-01", observed: seen(.installing))[.installed]?.reason == .installing)
        #expect(try conditions("web-01", observed: seen(.failed))[.installed]?.reason == .installFailed)
        // web-02 wants generation 1.
        let behind = try conditions("web-02", observed: seen(.installed, installed: 0))[.installed]
        #expect(behind?.status == .false && behind?.reason == .generationBehind)
        #expect(behind?.message == "generation 0 is installed, 1 is desired")
    }

    @Test("a changed hardware report makes HardwareChanged true with what changed; it does not make a machine unready")
    func hardwareChanged() throws {
        let changes = ["DIMM A3 replaced: 32 GiB, HMA84GR7DJR4N-XN, serial 3510CC97 → 32 GiB, HMA84GR7DJR4N-XN, serial 4410AA01"]
        let conditions = try self.conditions("web-01", observed: seen(.installed, installed: 0, hardwareChanges: changes),
                                             bmc: bmc(power: "On", firmware: ["System ROM": "U32 v2.90", "iLO 5": "3.08"]))
        #expect(conditions[.hardwareChanged]?.status == .true && conditions[.hardwareChanged]?.message == changes[0])
        #expect(conditions[.ready]?.status == .true)
    }

    @Test("a machine dploy saw that is not in git is not ready, and says so")
    func notInGit() throws {
        let stranger = ObservedMachine(mac: MACAddress("94:18:82:99:00:01")!, firstSeen: t0, lastSeen: t0, state: .discovered)
        let conditions = MachineConditions.evaluate(machine: nil, baseline: nil, observed: stranger, bmc: nil)
        #expect(conditions.map(\.type) == [.ready, .hardwareChanged])
        #expect(conditions[0].status == .false && conditions[0].reason == .notInGit)
    }
}
