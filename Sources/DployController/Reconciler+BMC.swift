import DployApply
import DployInventory
import DployBMC
import DployPlan
import DploySpec
import Foundation

/// The fleet's BMCs as the applier sees them: each machine's effective `bmc` settings (group
/// defaults applied), its secret, and one driver per machine, opened on first use and kept
/// for the rest of the apply (one login per BMC, logged out when this is released).
public final class FleetBMC: BMCActions {
    private let settings: [String: BMCSettings]
    private let secrets: SecretStore?
    private let baseDirectory: String
    private let options: RedfishOptions
    private let warnings: BMCWarnings?
    private var drivers: [String: BMCDriver] = [:]

    public init(fleet: Fleet, secrets: SecretStore?, baseDirectory: String, options: RedfishOptions = RedfishOptions(),
                warnings: BMCWarnings? = nil) {
        let resolver = DefaultsResolver(groups: fleet.groups)
        var settings: [String: BMCSettings] = [:]
        for machine in fleet.machines {
            if let bmc = resolver.resolve(machine).settings.bmc { settings[machine.name] = bmc }
        }
        self.settings = settings
        self.secrets = secrets
        self.baseDirectory = baseDirectory
        self.options = options
        self.warnings = warnings
    }

    private func driver(_ machine: String) throws -> BMCDriver {
        if let driver = drivers[machine] { return driver }
        guard let bmc = settings[machine] else {
            throw BMCError(.configuration, address: "(none)", "machine '\(machine)' has no 'spec.bmc'")
        }
        let driver = BMCDriver(endpoint: try BMCEndpoint.from(bmc, secrets: secrets, baseDirectory: baseDirectory),
                               options: options, warnings: warnings)
        drivers[machine] = driver
        return driver
    }

    public func bootOnceFromNetwork(machine: String) throws {
        try driver(machine).bootOnce(from: .pxe)
    }

    public func power(machine: String, _ action: PowerAction) throws {
        try driver(machine).setPower(action)
    }
}

extension BMCRecord {
    /// What the store keeps of one BMC observation.
    public init(_ observation: BMCObservation, mac: MACAddress) {
        self.init(mac: mac, readAt: observation.readAt)
        if let reading = observation.reading {
            power = reading.power.description
            health = reading.health
            model = [reading.manufacturer, reading.model].compactMap { $0 }.joined(separator: " ")
            serial = reading.serialNumber
            biosVersion = reading.biosVersion
            bmcFirmware = reading.managerFirmware
        } else {
            error = observation.error.map(String.init(describing:))
        }
    }
}

extension Reconciler {
    /// Where relative BMC paths (`caFile`) start: the controller config's folder.
    public var bmcBaseDirectory: String {
        URL(fileURLWithPath: configPath).deletingLastPathComponent().path
    }

    public var secretStore: SecretStore? { config.secrets.map(SecretStore.init(folder:)) }

    /// BMC access for applying a plan made from `fleet`.
    public func bmcActions(for fleet: Fleet, warnings: BMCWarnings? = nil) -> FleetBMC {
        FleetBMC(fleet: fleet, secrets: secretStore, baseDirectory: bmcBaseDirectory, warnings: warnings)
    }

    /// Reads the BMC of every machine that has one, `concurrency` at a time (default: the
    /// config's `bmc.concurrency`), and the firmware inventory of those with a firmware
    /// baseline. Returns what `ObservedState.power` and `.firmware` take, by MAC (machines
    /// whose BMC could not be read are left out, so nothing is planned on a guess), with
    /// every observation.
    public func observeBMCs(_ fleet: Fleet, concurrency: Int? = nil, warnings: BMCWarnings? = nil) async
        -> (power: [MACAddress: ObservedPower], firmware: [MACAddress: ObservedFirmware], observations: [BMCObservation]) {
        let resolver = DefaultsResolver(groups: fleet.groups)
        var plain: [(machine: String, bmc: BMCSettings)] = [], withBaseline: [(machine: String, bmc: BMCSettings)] = []
        var macs: [String: MACAddress] = [:]
        for machine in fleet.machines {
            let settings = resolver.resolve(machine).settings
            guard let bmc = settings.bmc, bmc.address != nil else { continue }
            if settings.firmware != nil { withBaseline.append((machine.name, bmc)) } else { plain.append((machine.name, bmc)) }
            macs[machine.name] = machine.mac.value
        }
        var observer = BMCObserver(secrets: secretStore, baseDirectory: bmcBaseDirectory,
                                   concurrency: concurrency ?? config.bmcConcurrency, warnings: warnings)
        var observations = await observer.observe(plain)
        observer.readsFirmware = true
        observations += await observer.observe(withBaseline)
        var power: [MACAddress: ObservedPower] = [:]
        var firmware: [MACAddress: ObservedFirmware] = [:]
        for observation in observations {
            guard let mac = macs[observation.machine], let reading = observation.reading else { continue }
            switch reading.power {
            case .on: power[mac] = .on
            case .off: power[mac] = .off
            default: break  // powering on or off: neither, so no drift is planned mid-change
            }
            if let installed = reading.firmware {
                firmware[mac] = ObservedFirmware(model: reading.model,
                                                 versions: Dictionary(installed.map { ($0.name, $0.version) }) { first, _ in first })
            }
        }
        return (power, firmware, observations)
    }
}
