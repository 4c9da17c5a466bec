/// A machine's storage as its BMC reports it, in the spec's own words (`RAIDLevel`,
/// `DriveMedia`, drive locations). It lives beside `StorageSettings` because two modules
/// that may not import each other share it: DployBMC reads it (SmartStorage on iLO 5, DMTF
/// Storage elsewhere) and DployPlan compares it with the spec.
public struct ObservedStorage: Hashable, Sendable, Codable {
    public var controllers: [ObservedController]

    public init(controllers: [ObservedController]) {
        self.controllers = controllers
    }

    /// HPE Smart Array controllers (SmartStorage `ArrayControllers`, or a DMTF Storage whose
    /// name says Smart Array/SR): where the Array Configuration Utility has something to show.
    public var smartArrayControllers: Int { controllers.count { $0.isSmartArray } }
}

/// One RAID controller: its logical drives and physical drives, and how it takes changes.
public struct ObservedController: Hashable, Sendable, Codable {
    /// How dploy writes to it.
    public enum Interface: String, Hashable, Sendable, Codable {
        /// HPE iLO 5: a PUT of the whole `LogicalDrives` array to `SmartStorageConfig/Settings`,
        /// validated and applied by the controller at the next reboot.
        case smartStorageConfig
        /// DMTF `Storage/Volumes`: POST a volume to create it, DELETE to remove it.
        case volumes
    }

    public var interface: Interface
    /// `HPE SR416i-a Gen10+ (Slot 12)`: for plans and pages.
    public var name: String
    public var isSmartArray: Bool
    /// Where a change goes: the settings resource (SmartStorageConfig) or the Volumes collection.
    public var target: String
    public var logicalDrives: [ObservedLogicalDrive]
    /// SmartStorageConfig's pending `LogicalDrives` (its settings resource), which the
    /// controller takes at the next reboot; nil for DMTF volumes, which apply at once.
    public var pending: [ObservedLogicalDrive]?
    /// The settings resource's ETag as read: a write sends it as `If-Match`.
    public var settingsETag: String?
    public var drives: [ObservedDrive]
    /// `RAIDType@Redfish.AllowableValues` of `Volumes/Capabilities`, as RAID levels; nil when
    /// the controller does not say (SmartStorageConfig never does).
    public var raidLevels: [RAIDLevel]?

    public init(interface: Interface, name: String, isSmartArray: Bool, target: String, logicalDrives: [ObservedLogicalDrive],
                pending: [ObservedLogicalDrive]? = nil, settingsETag: String? = nil, drives: [ObservedDrive], raidLevels: [RAIDLevel]? = nil) {
        self.interface = interface
        self.name = name
        self.isSmartArray = isSmartArray
        self.target = target
        self.logicalDrives = logicalDrives
        self.pending = pending
        self.settingsETag = settingsETag
        self.drives = drives
        self.raidLevels = raidLevels
    }

    /// Drives in no logical drive, as data or spare: what a new logical drive may be built from.
    public var freeDrives: [ObservedDrive] {
        let used = Set(logicalDrives.flatMap { $0.drives + $0.spare })
        return drives.filter { !used.contains($0.location) }
    }
}

/// A logical drive (SmartStorage) or volume (DMTF) that exists on the controller.
public struct ObservedLogicalDrive: Hashable, Sendable, Codable {
    public var name: String
    /// nil when the controller reports a level dploy does not set (`raidText` says which).
    public var raid: RAIDLevel?
    public var raidText: String
    public var drives: [String]
    public var spare: [String]
    /// How the controller names it for a change: SmartStorage's `VolumeUniqueIdentifier`,
    /// or the DMTF volume's `@odata.id`.
    public var id: String

    public init(name: String, raid: RAIDLevel?, raidText: String, drives: [String], spare: [String] = [], id: String) {
        self.name = name
        self.raid = raid
        self.raidText = raidText
        self.drives = drives
        self.spare = spare
        self.id = id
    }

    /// `boot Raid1 1I:1:1+1I:1:2`
    public var text: String {
        "\(name) \(raid?.rawValue ?? raidText) \(drives.joined(separator: "+"))" + (spare.isEmpty ? "" : " spare " + spare.joined(separator: "+"))
    }
}

/// A physical drive behind a controller.
public struct ObservedDrive: Hashable, Sendable, Codable {
    /// SmartStorage `Location` (`1I:1:1`) or the DMTF service label (`Slot=18:Port=1:Box=1:Bay=5`).
    public var location: String
    public var media: DriveMedia?
    /// The DMTF drive's `@odata.id`: what a volume POST links to; nil on SmartStorage.
    public var path: String?

    public init(location: String, media: DriveMedia?, path: String? = nil) {
        self.location = location
        self.media = media
        self.path = path
    }
}
