import DployInventory
import DployPlan
import DploySpec
import Foundation

/// One machine, desired and observed side by side: every machine in git, then every
/// machine dploy has seen that is not in git. What `dploy machines`, `/v1/machines` and the
/// web page's server list show.
public struct MachineOverview: Encodable, Sendable {
    public var name: String?
    public var mac: String
    public var inGit: Bool
    /// The address in git, else the one it last spoke to dploy from.
    public var address: String?
    public var desiredGeneration: Int?
    public var installedGeneration: Int?
    /// A machine in git that has only been seen is "known", not "discovered"; one never seen says so.
    public var state: String
    public var lastSeen: Date?
    public var lastInventory: Date?
    public var lastEvent: String?
    public var lastEventAt: Date?
    /// Power as the BMC last said (`On`, `Off`…), when the daemon reads BMCs.
    public var power: String?
    public var powerReadAt: Date?
    /// HPE Smart Array controllers the iLO reported (the ACU link's condition); nil when not read.
    public var smartArrayControllers: Int?
    public var hardware: Hardware?
    /// Ready, Installed, PowerInSync, FirmwareInSync, HardwareChanged (`MachineConditions`).
    public var conditions: [MachineCondition] = []

    public static func rows(fleet: Fleet, observed: [ObservedMachine], latestEvents: [MACAddress: MachineEvent] = [:],
                            bmcReadings: [MACAddress: BMCRecord] = [:]) -> [MachineOverview] {
        let byMAC = Dictionary(observed.map { ($0.mac, $0) }, uniquingKeysWith: { $1 })
        let resolver = DefaultsResolver(groups: fleet.groups)
        var rows = fleet.machines.map { machine in
            let seen = byMAC[machine.mac.value]
            let effective = resolver.resolve(machine)
            return MachineOverview(
                name: machine.name, mac: machine.mac.value.description, inGit: true,
                address: machine.ip?.value.description ?? seen?.address,
                desiredGeneration: effective.generation, installedGeneration: seen?.installedGeneration,
                state: Self.state(inGit: true, seen: seen),
                lastSeen: seen?.lastSeen, lastInventory: seen?.hardwareReportedAt,
                lastEvent: latestEvents[machine.mac.value]?.message, lastEventAt: latestEvents[machine.mac.value]?.at,
                hardware: seen?.hardware,
                conditions: MachineConditions.evaluate(machine: effective,
                                                       baseline: effective.settings.firmware.flatMap(fleet.firmwareBaseline(named:)),
                                                       observed: seen, bmc: bmcReadings[machine.mac.value]))
        }
        let inGit = Set(fleet.machines.map(\.mac.value))
        for machine in observed.sorted(by: { $0.mac < $1.mac }) where !inGit.contains(machine.mac) {
            rows.append(MachineOverview(name: nil, mac: machine.mac.description, inGit: false, address: machine.address,
                                        desiredGeneration: nil, installedGeneration: machine.installedGeneration,
                                        state: Self.state(inGit: false, seen: machine), lastSeen: machine.lastSeen,
                                        lastInventory: machine.hardwareReportedAt,
                                        lastEvent: latestEvents[machine.mac]?.message, lastEventAt: latestEvents[machine.mac]?.at,
                                        hardware: machine.hardware,
                                        conditions: MachineConditions.evaluate(machine: nil, baseline: nil, observed: machine,
                                                                               bmc: bmcReadings[machine.mac])))
        }
        for index in rows.indices {
            guard let mac = MACAddress(rows[index].mac), let reading = bmcReadings[mac] else { continue }
            rows[index].power = reading.power ?? "unreadable"
            rows[index].powerReadAt = reading.readAt
            rows[index].smartArrayControllers = reading.smartArrayControllers
        }
        return rows
    }

    /// How many machines are in each state, as `rows` would show them; for the metrics,
    /// every run, so without resolving every machine's settings.
    public static func stateCounts(fleet: Fleet, observed: [ObservedMachine]) -> [String: Int] {
        let byMAC = Dictionary(observed.map { ($0.mac, $0) }, uniquingKeysWith: { $1 })
        var counts: [String: Int] = [:]
        var inGit: Set<MACAddress> = []
        for machine in fleet.machines {
            inGit.insert(machine.mac.value)
            counts[state(inGit: true, seen: byMAC[machine.mac.value]), default: 0] += 1
        }
        for machine in observed where !inGit.contains(machine.mac) {
            counts[state(inGit: false, seen: machine), default: 0] += 1
        }
        return counts
    }

    static func state(inGit: Bool, seen: ObservedMachine?) -> String {
        guard let seen else { return "never seen" }
        return inGit && seen.state == .discovered ? MachineState.known.rawValue : seen.state.rawValue
    }
}
