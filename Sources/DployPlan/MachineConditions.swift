import DployInventory
import DploySpec
import Foundation

/// One aspect of a machine, Flux style: whether it holds (`True`, `False`, `Unknown`), a
/// stable reason code, a sentence, and when the observation it rests on was made.
/// `dploy machines --json`, `/v1/machines` and the machine page show them; the
/// `dploy_machine_condition` metric counts machines by type and status.
public struct MachineCondition: Hashable, Sendable, Codable {
    public enum Kind: String, CaseIterable, Hashable, Sendable, Codable {
        /// Installed, power and firmware all as desired.
        case ready = "Ready"
        /// The desired generation is installed.
        case installed = "Installed"
        /// The BMC reports the desired power state.
        case powerInSync = "PowerInSync"
        /// Every component of the machine's firmware baseline is at its version.
        case firmwareInSync = "FirmwareInSync"
        /// The newest hardware report differs from the one before it (a DIMM, a disk swapped).
        case hardwareChanged = "HardwareChanged"
    }

    public enum Status: String, Hashable, Sendable, Codable {
        case `true` = "True", `false` = "False", unknown = "Unknown"
    }

    public var type: Kind
    public var status: Status
    public var reason: ConditionReason
    public var message: String
    /// When the observation the condition rests on was made (the machine last seen, the
    /// BMC read, the hardware reported); nil when there is none.
    public var observedAt: Date?

    public init(_ type: Kind, _ status: Status, _ reason: ConditionReason, _ message: String, observedAt: Date? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.observedAt = observedAt
    }
}

/// Why a condition is what it is. Stable: alerts and scripts key on these.
public enum ConditionReason: String, CaseIterable, Hashable, Sendable, Codable {
    // Ready
    case ready, notInGit
    // Installed
    case generationInstalled, noProfile, neverInstalled, generationBehind, installing, installFailed
    // PowerInSync
    case powerMatches, powerUnmanaged, powerDrift, powerChanging, noBMC, bmcNotRead, bmcUnreadable
    // FirmwareInSync
    case firmwareMatches, noBaseline, firmwareDrift, firmwareModelMismatch, firmwareNotRead
    // HardwareChanged
    case hardwareChanged, hardwareUnchanged, noReport
}

/// Desired × observed → conditions. Pure, like the planner, and agrees with it: a machine
/// whose power or firmware the planner would change is not in sync.
public enum MachineConditions {
    /// - Parameters:
    ///   - machine: the machine's effective spec; nil for a machine dploy saw that is not in git.
    ///   - baseline: its firmware baseline, when it names one that exists.
    ///   - observed: what the store knows of it; nil when it never spoke to dploy.
    ///   - bmc: its BMC as last read.
    public static func evaluate(machine: EffectiveMachine?, baseline: FirmwareBaseline?, observed: ObservedMachine?,
                                bmc: BMCRecord?) -> [MachineCondition] {
        let hardware = hardwareChanged(observed)
        guard let machine else {
            return [MachineCondition(.ready, .false, .notInGit, "not in git: dploy leaves it alone until a Machine document names it",
                                     observedAt: observed?.lastSeen), hardware]
        }
        let parts = [installed(machine, observed), power(machine, bmc), firmware(machine, baseline, bmc)]
        return [ready(parts)] + parts + [hardware]
    }

    /// True when every part is; else False with the first False part's reason, else Unknown.
    static func ready(_ parts: [MachineCondition]) -> MachineCondition {
        let time = parts.compactMap(\.observedAt).max()
        if let part = parts.first(where: { $0.status == .false }) ?? parts.first(where: { $0.status == .unknown }) {
            return MachineCondition(.ready, part.status, part.reason, "\(part.type.rawValue): \(part.message)", observedAt: time)
        }
        return MachineCondition(.ready, .true, .ready, "installed, power and firmware as desired", observedAt: time)
    }

    static func installed(_ machine: EffectiveMachine, _ observed: ObservedMachine?) -> MachineCondition {
        let wanted = machine.generation, time = observed?.lastSeen
        guard machine.settings.profile != nil else {
            return MachineCondition(.installed, .true, .noProfile, "no profile: dploy does not install it; it boots its local disk",
                                    observedAt: time)
        }
        switch (observed?.state, observed?.installedGeneration) {
        case (.failed?, _):
            return MachineCondition(.installed, .false, .installFailed,
                                    "the install of generation \(wanted) failed; it boots its local disk until the generation changes",
                                    observedAt: time)
        case (.installing?, _):
            return MachineCondition(.installed, .false, .installing, "installing generation \(wanted)", observedAt: time)
        case (_, let installed?) where installed >= wanted:
            return MachineCondition(.installed, .true, .generationInstalled, "generation \(installed) is installed", observedAt: time)
        case (_, let installed?):
            return MachineCondition(.installed, .false, .generationBehind,
                                    "generation \(installed) is installed, \(wanted) is desired", observedAt: time)
        case (_, nil):
            return MachineCondition(.installed, .false, .neverInstalled,
                                    "generation \(wanted) is desired and none was installed by dploy yet", observedAt: time)
        }
    }

    static func power(_ machine: EffectiveMachine, _ bmc: BMCRecord?) -> MachineCondition {
        guard machine.settings.bmc?.address != nil else {
            return MachineCondition(.powerInSync, .true, .noBMC, "no BMC: dploy does not manage its power")
        }
        guard let wanted = PowerAction(desired: machine.power) else {
            return MachineCondition(.powerInSync, .true, .powerUnmanaged, "power: unmanaged", observedAt: bmc?.readAt)
        }
        guard let bmc else {
            return MachineCondition(.powerInSync, .unknown, .bmcNotRead, "the BMC has not been read (bmc.observe in dploy.yaml)")
        }
        guard let power = bmc.power else {
            return MachineCondition(.powerInSync, .unknown, .bmcUnreadable, "the BMC could not be read: \(bmc.error ?? "no answer")",
                                    observedAt: bmc.readAt)
        }
        switch power.lowercased() {
        case wanted.rawValue:
            return MachineCondition(.powerInSync, .true, .powerMatches, "power is \(wanted.rawValue), as desired", observedAt: bmc.readAt)
        case "on", "off":
            return MachineCondition(.powerInSync, .false, .powerDrift, "power is \(power.lowercased()), desired \(wanted.rawValue)",
                                    observedAt: bmc.readAt)
        default:
            return MachineCondition(.powerInSync, .unknown, .powerChanging, "the BMC reports \(power)", observedAt: bmc.readAt)
        }
    }

    static func firmware(_ machine: EffectiveMachine, _ baseline: FirmwareBaseline?, _ bmc: BMCRecord?) -> MachineCondition {
        guard let baseline else {
            return MachineCondition(.firmwareInSync, .true, .noBaseline, "no firmware baseline")
        }
        guard machine.settings.bmc?.address != nil else {
            return MachineCondition(.firmwareInSync, .unknown, .noBMC, "baseline \(baseline.name), but no BMC to read the firmware from")
        }
        guard let bmc, let installed = bmc.firmware else {
            return MachineCondition(.firmwareInSync, .unknown, .firmwareNotRead,
                                    "baseline \(baseline.name); the firmware inventory has not been read", observedAt: bmc?.readAt)
        }
        let drift = FirmwareDrift.plan(machine: machine.name, baseline: baseline,
                                       observed: installed)
        if let mismatch = drift.reasons.first(where: { $0.code == .firmwareModelMismatch }) {
            return MachineCondition(.firmwareInSync, .unknown, .firmwareModelMismatch, mismatch.message, observedAt: bmc.readAt)
        }
        guard drift.actions.isEmpty else {
            let changes = drift.actions.compactMap { action -> String? in
                if case .updateFirmware(_, let target, _) = action { "\(target.component) \(target.installed) → \(target.version)" } else { nil }
            }
            return MachineCondition(.firmwareInSync, .false, .firmwareDrift, changes.joined(separator: "; "), observedAt: bmc.readAt)
        }
        return MachineCondition(.firmwareInSync, .true, .firmwareMatches, "at baseline \(baseline.name)", observedAt: bmc.readAt)
    }

    static func hardwareChanged(_ observed: ObservedMachine?) -> MachineCondition {
        guard let observed, let reported = observed.hardwareReportedAt else {
            return MachineCondition(.hardwareChanged, .unknown, .noReport, "no hardware report yet")
        }
        if !observed.hardwareChanges.isEmpty {
            return MachineCondition(.hardwareChanged, .true, .hardwareChanged, observed.hardwareChanges.joined(separator: "; "),
                                    observedAt: reported)
        }
        return MachineCondition(.hardwareChanged, .false, .hardwareUnchanged, "the last report matches the one before it, or is the first",
                                observedAt: reported)
    }
}
