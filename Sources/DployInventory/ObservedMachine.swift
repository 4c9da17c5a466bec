import DploySpec
import Foundation

/// A machine as the fleet shows it: seen on the network, its hardware, its installs.
public struct ObservedMachine: Hashable, Sendable {
    public var mac: MACAddress
    public var firstSeen: Date
    public var lastSeen: Date
    /// The address it last spoke to dploy from.
    public var address: String?
    public var state: MachineState
    /// The newest generation it finished installing.
    public var installedGeneration: Int?
    public var hardware: Hardware?
    /// When the agent last reported the hardware.
    public var hardwareReportedAt: Date?
    /// What the last report changed against the one before it, one line per part
    /// (`Hardware.changes(since:)`); empty when nothing did or it was the first.
    public var hardwareChanges: [String] = []

    public init(mac: MACAddress, firstSeen: Date, lastSeen: Date, address: String? = nil, state: MachineState,
                installedGeneration: Int? = nil, hardware: Hardware? = nil, hardwareReportedAt: Date? = nil,
                hardwareChanges: [String] = []) {
        self.mac = mac
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.address = address
        self.state = state
        self.installedGeneration = installedGeneration
        self.hardware = hardware
        self.hardwareReportedAt = hardwareReportedAt
        self.hardwareChanges = hardwareChanges
    }
}

/// Where a machine is in its life, as dploy has seen it.
public enum MachineState: String, Codable, Hashable, Sendable, CaseIterable {
    /// Booted from the network and reported itself, but is not in git.
    case discovered
    /// In git, not installed by dploy yet.
    case known
    /// Booted an installer for a generation that has not called back yet.
    case installing
    /// Finished installing its newest requested generation.
    case installed
    /// An install never called back within its retries; it boots from disk until a new generation.
    case failed
    /// A rediscover task forgot its hardware and installs: its next network boot is a
    /// discovery, also when it is in git. Its hardware report makes it `discovered` again.
    case rediscovering
}

/// What the discovery agent reported about a machine's hardware.
public struct Hardware: Codable, Hashable, Sendable {
    public struct Disk: Codable, Hashable, Sendable {
        public var name: String
        public var sizeBytes: Int64?
        public var model: String?
        /// Tells a swapped disk from its twin of the same model and size.
        public var serial: String?
        public init(name: String, sizeBytes: Int64? = nil, model: String? = nil, serial: String? = nil) {
            self.name = name
            self.sizeBytes = sizeBytes
            self.model = model
            self.serial = serial
        }
    }

    /// One populated memory slot (DIMM), as lshw lists the banks of system memory.
    public struct MemoryModule: Codable, Hashable, Sendable {
        /// The slot's name on the board (`A1`, `PROC 1 DIMM 3`), else lshw's bank id.
        public var slot: String
        public var sizeBytes: Int64?
        public var model: String?
        public var serial: String?
        public init(slot: String, sizeBytes: Int64? = nil, model: String? = nil, serial: String? = nil) {
            self.slot = slot
            self.sizeBytes = sizeBytes
            self.model = model
            self.serial = serial
        }
    }

    public struct NIC: Codable, Hashable, Sendable {
        public var name: String?
        public var mac: String
        /// nil when the report does not say.
        public var linkUp: Bool?
        public init(name: String?, mac: String, linkUp: Bool?) {
            self.name = name
            self.mac = mac
            self.linkUp = linkUp
        }
    }

    public var vendor: String?
    public var model: String?
    public var serial: String?
    public var biosVersion: String?
    public var cpus: Int
    public var cpuModel: String?
    public var memoryBytes: Int64?
    /// Populated slots; empty when the report lists no banks (VMs, `-class` filters).
    public var memoryModules: [MemoryModule]
    public var disks: [Disk]
    public var nics: [NIC]

    public init(vendor: String? = nil, model: String? = nil, serial: String? = nil, biosVersion: String? = nil,
                cpus: Int = 0, cpuModel: String? = nil, memoryBytes: Int64? = nil, memoryModules: [MemoryModule] = [],
                disks: [Disk] = [], nics: [NIC] = []) {
        self.vendor = vendor
        self.model = model
        self.serial = serial
        self.biosVersion = biosVersion
        self.cpus = cpus
        self.cpuModel = cpuModel
        self.memoryBytes = memoryBytes
        self.memoryModules = memoryModules
        self.disks = disks
        self.nics = nics
    }

    private enum CodingKeys: String, CodingKey {
        case vendor, model, serial, biosVersion, cpus, cpuModel, memoryBytes, memoryModules, disks, nics
    }

    /// Reports stored before memory modules were read have none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(vendor: try container.decodeIfPresent(String.self, forKey: .vendor),
                  model: try container.decodeIfPresent(String.self, forKey: .model),
                  serial: try container.decodeIfPresent(String.self, forKey: .serial),
                  biosVersion: try container.decodeIfPresent(String.self, forKey: .biosVersion),
                  cpus: try container.decode(Int.self, forKey: .cpus),
                  cpuModel: try container.decodeIfPresent(String.self, forKey: .cpuModel),
                  memoryBytes: try container.decodeIfPresent(Int64.self, forKey: .memoryBytes),
                  memoryModules: try container.decodeIfPresent([MemoryModule].self, forKey: .memoryModules) ?? [],
                  disks: try container.decode([Disk].self, forKey: .disks),
                  nics: try container.decode([NIC].self, forKey: .nics))
    }
}

/// One try at installing one generation on one machine.
public struct InstallAttempt: Hashable, Sendable {
    public var mac: MACAddress
    public var generation: Int
    public var startedAt: Date
    public var finishedAt: Date?
    public var failedAt: Date?
    public var failure: String?

    public init(mac: MACAddress, generation: Int, startedAt: Date, finishedAt: Date? = nil, failedAt: Date? = nil,
                failure: String? = nil) {
        self.mac = mac
        self.generation = generation
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.failedAt = failedAt
        self.failure = failure
    }
}

/// Something that happened to a machine, and why: the history operators read.
public struct MachineEvent: Hashable, Sendable {
    public var mac: MACAddress?
    public var at: Date
    public var kind: String
    public var message: String

    public init(mac: MACAddress?, at: Date, kind: String, message: String) {
        self.mac = mac
        self.at = at
        self.kind = kind
        self.message = message
    }
}

/// A machine's BMC as last read: power and identity, or why it could not be read.
public struct BMCRecord: Hashable, Sendable {
    public var mac: MACAddress
    public var readAt: Date
    /// `On`, `Off`, `PoweringOn`…, as the BMC says; nil when the read failed.
    public var power: String?
    public var health: String?
    public var model: String?
    public var serial: String?
    public var biosVersion: String?
    public var bmcFirmware: String?
    /// Why the BMC could not be read; nil when it was.
    public var error: String?
    /// The firmware inventory, when it was read (machines with a baseline).
    public var firmware: ObservedFirmware?
    /// How many HPE Smart Array controllers the iLO reports (nil: not read, or not an iLO):
    /// the machine page links the Array Configuration Utility only where there is one.
    public var smartArrayControllers: Int?
    /// The BIOS's attribute names and value types, when its BIOS was read (machines with
    /// `bios`): what specs are checked against before a BMC is read again. Kept in a table of
    /// its own (`Store.biosAttributes()`), written only when it changes; `bmcReadings()`
    /// leaves it nil, as pages that list readings do not need it.
    public var biosAttributes: BIOSAttributeTypes?

    public init(mac: MACAddress, readAt: Date, power: String? = nil, health: String? = nil, model: String? = nil,
                serial: String? = nil, biosVersion: String? = nil, bmcFirmware: String? = nil, error: String? = nil,
                firmware: ObservedFirmware? = nil, smartArrayControllers: Int? = nil, biosAttributes: BIOSAttributeTypes? = nil) {
        self.mac = mac
        self.readAt = readAt
        self.power = power
        self.health = health
        self.model = model
        self.serial = serial
        self.biosVersion = biosVersion
        self.bmcFirmware = bmcFirmware
        self.error = error
        self.firmware = firmware
        self.smartArrayControllers = smartArrayControllers
        self.biosAttributes = biosAttributes
    }
}

/// Firmware as a machine's BMC reports it: the model and each component's version, by the
/// name the firmware inventory gives it (`System ROM`, `iLO 5`).
public struct ObservedFirmware: Hashable, Sendable, Codable {
    /// The model as the system reports it (`ProLiant DL360 Gen10`), as baselines name models.
    public var model: String?
    public var versions: [String: String]

    public init(model: String?, versions: [String: String]) {
        self.model = model
        self.versions = versions
    }
}

/// What a boot decision reads of one MAC, read at once (`Store.bootRecord`): the boot
/// server asks this for every request, so it is one read, without the hardware report.
public struct BootRecord: Hashable, Sendable {
    /// The store's state for the MAC; nil when it has no row.
    public var state: MachineState?
    public var installedGeneration: Int?
    /// Every install attempt, oldest first.
    public var attempts: [InstallAttempt]
    /// The machine's newest running run of the asked actions, not past its deadline.
    public var run: TaskRun?

    public init(state: MachineState? = nil, installedGeneration: Int? = nil, attempts: [InstallAttempt] = [], run: TaskRun? = nil) {
        self.state = state
        self.installedGeneration = installedGeneration
        self.attempts = attempts
        self.run = run
    }
}
