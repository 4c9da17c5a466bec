import DployApply
import DployConfig
import DployInventory
import DployBMC
import DployPlan
import DploySpec
import Foundation
import Logging

/// The fleet's BMCs as the applier sees them: each machine's effective `bmc` settings (group
/// defaults applied), its secret, and one driver per machine, opened on first use and kept
/// for the rest of the apply (one login per BMC, logged out when this is released).
public final class FleetBMC: BMCActions {
    /// Machines are resolved when a step needs their BMC: an apply drives a few, and
    /// resolving all 10,000 machines' settings up front was a hundred milliseconds of
    /// every apply, BMC steps or not.
    private let fleet: Fleet
    private let resolver: DefaultsResolver
    /// Each machine's index in `fleet.machines` by name (the first of a name), made at the first step.
    private lazy var indexByName = Dictionary(fleet.machines.indices.map { (fleet.machines[$0].name, $0) },
                                              uniquingKeysWith: { first, _ in first })
    private let secrets: SecretStore?
    private let baseDirectory: String
    private let options: RedfishOptions
    private let warnings: BMCWarnings?
    private var drivers: [String: BMCDriver] = [:]
    /// Image URL → the SHA-256 it served, read once per apply however many machines flash it.
    private var imageDigests: [String: String] = [:]
    /// The longest one firmware update may take (`bmc.firmwareTimeout` in dploy.yaml).
    public var firmwareTimeout: Duration = ControllerConfig.defaultFirmwareTimeout
    /// How often a running update is polled.
    public var firmwarePollInterval: Duration = .seconds(5)
    /// Where firmware progress is logged (each change of state or percentage).
    public var logger: Logger?
    /// The time events are recorded at.
    public var clock: WallClock = .system
    /// Receives one event per firmware component: updated, or failed and why.
    public var recordEvent: (@Sendable (MachineEvent) -> Void)?

    public init(fleet: Fleet, secrets: SecretStore?, baseDirectory: String, options: RedfishOptions = RedfishOptions(),
                warnings: BMCWarnings? = nil) {
        self.fleet = fleet
        resolver = DefaultsResolver(groups: fleet.groups)
        self.secrets = secrets
        self.baseDirectory = baseDirectory
        self.options = options
        self.warnings = warnings
    }

    private func driver(_ machine: String) throws -> BMCDriver {
        if let driver = drivers[machine] { return driver }
        let endpoint = try Self.endpoint(machine: self.machine(named: machine), name: machine, resolver: resolver, secrets: secrets,
                                         baseDirectory: baseDirectory)
        let driver = BMCDriver(endpoint: endpoint, options: options, warnings: warnings)
        drivers[machine] = driver
        return driver
    }

    /// The BMC of a machine of `fleet`, with its group defaults and its secret.
    static func endpoint(machine name: String, fleet: Fleet, resolver: DefaultsResolver, secrets: SecretStore?,
                         baseDirectory: String) throws -> BMCEndpoint {
        try endpoint(machine: fleet.machines.first { $0.name == name }, name: name, resolver: resolver, secrets: secrets,
                     baseDirectory: baseDirectory)
    }

    private static func endpoint(machine: Machine?, name: String, resolver: DefaultsResolver, secrets: SecretStore?,
                                 baseDirectory: String) throws -> BMCEndpoint {
        guard let machine else { throw BMCError(.configuration, address: "(none)", "machine '\(name)' is not in the desired state in force") }
        guard let bmc = resolver.resolve(machine).settings.bmc else {
            throw BMCError(.configuration, address: "(none)", "machine '\(name)' has no 'spec.bmc'")
        }
        return try BMCEndpoint.from(bmc, secrets: secrets, baseDirectory: baseDirectory)
    }

    public func bootOnceFromNetwork(machine: String) throws {
        try driver(machine).bootOnce(from: .pxe)
    }

    public func power(machine: String, _ action: PowerAction) throws {
        try driver(machine).setPower(action)
    }

    /// Checks the image, then asks the BMC to flash it (SimpleUpdate) and follows the update
    /// until the BMC says it is done or failed, or `firmwareTimeout` passes.
    ///
    /// The BMC downloads the image itself, so dploy cannot check the bytes the BMC gets. It
    /// checks the next best thing first: that the image URL serves, right now, bytes with the
    /// baseline's SHA-256. A wrong baseline entry or a replaced file on the image server then
    /// fails the step before the BMC is asked anything. (iLO also checks HPE's signature in a
    /// .fwpkg before flashing.)
    public func updateFirmware(machine: String, _ target: FirmwareTarget) throws {
        let what = "\(target.component) \(target.installed) → \(target.version)"
        let metadata: Logger.Metadata = ["machine": "\(machine)", "component": "\(target.component)", "image": "\(target.image)"]
        do {
            try checkImage(target)
            logger?.info("firmware update started: \(what)", metadata: metadata)
            let result = try driver(machine).updateFirmware(imageURI: target.image, timeout: firmwareTimeout,
                                                            interval: firmwarePollInterval) { progress in
                logger?.info("firmware update \(target.component): \(progress.state)\(progress.percent.map { " \($0)%" } ?? "")",
                             metadata: metadata)
            }
            // A task that vanished finished without saying how; the next inventory read tells.
            let outcome = result.phase == .vanished ? "the BMC dropped the finished task, result unknown until the next read"
                : result.state
            logger?.info("firmware update done: \(what) (\(outcome))", metadata: metadata)
            record(machine, "firmware-updated", "\(what) from \(target.image): \(outcome)")
        } catch {
            logger?.error("firmware update failed: \(what): \(error)", metadata: metadata)
            record(machine, "firmware-failed", "\(what) from \(target.image): \(error)")
            throw error
        }
    }

    /// Writes the drifted BIOS attributes to the pending settings with `If-Match` the ETag the
    /// plan read them with (see `BMCActions`); the machine takes them at its next reboot,
    /// which dploy does not force.
    public func setBIOSAttributes(machine: String, _ changes: [BIOSChange], ifMatch: String?) throws {
        let list = changes.map(\.text).joined(separator: ", ")
        do {
            try driver(machine).setBIOSAttributes(Dictionary(changes.map { ($0.name, $0.desired) }) { _, last in last }, ifMatch: ifMatch)
            logger?.info("BIOS settings written, applied at next reboot: \(list)", metadata: ["machine": "\(machine)"])
            record(machine, "bios-pending", "\(list): written to the pending settings, applied at next reboot")
        } catch {
            logger?.error("BIOS settings not written: \(list): \(error)", metadata: ["machine": "\(machine)"])
            record(machine, "bios-failed", "\(list): \(error)")
            throw error
        }
    }

    /// Refuses the step unless the image URL serves the baseline's SHA-256.
    private func checkImage(_ target: FirmwareTarget) throws {
        let served: String
        if let known = imageDigests[target.image] {
            served = known
        } else {
            served = try ImageDigest.sha256(of: target.image, timeout: firmwareTimeout).sha256
            imageDigests[target.image] = served
        }
        try Self.check(target, served: served)
    }

    /// Refuses a firmware step whose image URL served another SHA-256 than the baseline's.
    static func check(_ target: FirmwareTarget, served: String) throws {
        guard served == target.sha256.lowercased() else {
            throw BMCStepRefused("firmware '\(target.component)' \(target.version): \(target.image) serves sha256 \(served), "
                + "but the baseline says \(target.sha256.lowercased()); the BMC was not asked to flash it")
        }
    }

    private func machine(named name: String) -> Machine? {
        indexByName[name].map { fleet.machines[$0] }
    }

    private func record(_ machine: String, _ kind: String, _ message: String) {
        recordEvent?(MachineEvent(mac: self.machine(named: machine)?.mac.value, at: clock.now(), kind: kind, message: message))
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
            smartArrayControllers = reading.smartArrayControllers
            biosAttributes = reading.bios.map { BIOSAttributeTypes(names: $0.names, current: $0.current, pending: $0.pending) }
            firmware = reading.firmware.map { installed in
                ObservedFirmware(model: reading.model, versions: Dictionary(installed.map { ($0.name, $0.version) }) { first, _ in first })
            }
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

    /// BMC access for applying a plan made from `fleet`; firmware progress goes to `logger`
    /// and one event per component to `recordEvent`. With `leading`, each request that
    /// changes a BMC is sent only while it says this dploy leads (`RedfishOptions.mayChange`).
    public func bmcActions(for fleet: Fleet, warnings: BMCWarnings? = nil, logger: Logger? = nil,
                           recordEvent: (@Sendable (MachineEvent) -> Void)? = nil,
                           leading: (@Sendable () -> Bool)? = nil) -> FleetBMC {
        var options = RedfishOptions()
        options.mayChange = leading
        let actions = FleetBMC(fleet: fleet, secrets: secretStore, baseDirectory: bmcBaseDirectory, options: options, warnings: warnings)
        actions.firmwareTimeout = config.bmcFirmwareTimeout
        actions.logger = logger
        actions.recordEvent = recordEvent
        actions.clock = clock
        return actions
    }

    /// Reads the BMC of every machine that has one, `concurrency` at a time (default: the
    /// config's `bmc.concurrency`), the firmware inventory of those with a firmware baseline
    /// and the BIOS attributes of those with `bios`. Machines whose BMC (or inventory, or
    /// BIOS) could not be read are left out, so nothing is planned on a guess.
    public func observeBMCs(_ fleet: Fleet, concurrency: Int? = nil, warnings: BMCWarnings? = nil) async -> ObservedBMCs {
        let targets = bmcTargets(fleet)
        return ObservedBMCs(await observeBMCs(targets, concurrency: concurrency, warnings: warnings),
                            macs: Dictionary(targets.map { ($0.machine, $0.mac) }) { first, _ in first })
    }

    /// Every machine of `fleet` that has a BMC, with what to read of it.
    public func bmcTargets(_ fleet: Fleet) -> [BMCTarget] {
        let resolver = DefaultsResolver(groups: fleet.groups)
        return fleet.machines.compactMap { machine in
            let settings = resolver.resolve(machine).settings
            guard let bmc = settings.bmc, bmc.address != nil else { return nil }
            return BMCTarget(machine: machine.name, mac: machine.mac.value, bmc: bmc, readsFirmware: settings.firmware != nil,
                             readsBIOS: settings.bios != nil, readsStorage: settings.storage != nil)
        }
    }

    /// Reads these BMCs, `concurrency` at a time; one observation each, in no set order.
    public func observeBMCs(_ targets: [BMCTarget], concurrency: Int? = nil, warnings: BMCWarnings? = nil) async -> [BMCObservation] {
        // One observer per combination of what is read: a machine pays for its own reads only.
        let byReads = Dictionary(grouping: targets) { [$0.readsFirmware, $0.readsBIOS, $0.readsStorage] }
        var observer = BMCObserver(secrets: secretStore, baseDirectory: bmcBaseDirectory,
                                   concurrency: concurrency ?? config.bmcConcurrency, warnings: warnings)
        var observations: [BMCObservation] = []
        for reads in byReads.keys.sorted(by: { $0.lexicographicallyPrecedes($1) { !$0 && $1 } }) {
            observer.readsFirmware = reads[0]
            observer.readsBIOS = reads[1]
            observer.readsStorage = reads[2]
            observations += await observer.observe(byReads[reads]!.map { ($0.machine, $0.bmc) })
        }
        return observations
    }
}

/// One machine's BMC to read, and what to read of it beyond power and identity.
public struct BMCTarget: Hashable, Sendable {
    public var machine: String
    public var mac: MACAddress
    public var bmc: BMCSettings
    public var readsFirmware: Bool
    public var readsBIOS: Bool
    public var readsStorage: Bool
}

/// What one round of BMC reads gives the planner (`ObservedState.power`, `.firmware`,
/// `.bios`, by MAC), with every observation for the store and the metrics.
public struct ObservedBMCs: Sendable {
    public var power: [MACAddress: ObservedPower] = [:]
    public var firmware: [MACAddress: ObservedFirmware] = [:]
    public var bios: [MACAddress: ObservedBIOS] = [:]
    /// Why a BIOS could not be read, for machines whose BMC was read but whose BIOS was not.
    public var biosUnread: [MACAddress: String] = [:]
    /// RAID controllers, for machines with `storage`, and why one could not be read.
    public var storage: [MACAddress: ObservedStorage] = [:]
    public var storageUnread: [MACAddress: String] = [:]
    public var observations: [BMCObservation] = []

    public init() {}

    /// What `observations` tell the planner, by the MAC of each machine (`macs`, by name).
    public init(_ observations: [BMCObservation], macs: [String: MACAddress]) {
        self.observations = observations
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
            if let error = reading.biosError { biosUnread[mac] = error }
            if let bios = reading.bios {
                self.bios[mac] = ObservedBIOS(current: bios.current, names: bios.names, pending: bios.pending, settingsETag: bios.pendingETag)
            }
            if let error = reading.storageError { storageUnread[mac] = error }
            if let storage = reading.storage { self.storage[mac] = storage }
        }
    }
}
