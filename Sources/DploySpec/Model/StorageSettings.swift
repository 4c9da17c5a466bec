/// The RAID a machine's storage controller should hold (`storage.logicalDrives`): the whole
/// list, so a logical drive the controller has and the list does not is drift too. Changing
/// or deleting one that exists destroys its data: the planner asks for `allowDestructive`.
public struct StorageSettings: Hashable, Sendable, CustomStringConvertible {
    public var logicalDrives: [LogicalDriveSpec]

    public init(logicalDrives: [LogicalDriveSpec]) {
        self.logicalDrives = logicalDrives
    }

    /// `[boot Raid1 1I:1:1+1I:1:2, data Raid5 3×SSD]`: how `dploy machine` and a group conflict show it.
    public var description: String { "[" + logicalDrives.map(\.description).joined(separator: ", ") + "]" }

    /// A Smart Array controller holds at most 64 logical drives.
    public static let maxLogicalDrives = 64
    /// Drives named by one logical drive (data and spare): more than any enclosure holds.
    public static let maxDrives = 64

    /// A logical drive's name: HPE's `LogicalDriveName` and DMTF's `DisplayName` take short
    /// labels. Letters, digits, '-', '_', '.' and inner spaces (iLO names its own `Logical
    /// Drive 1`, so a spec can keep one) are all a label needs, and are sent JSON-encoded.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...32).contains(bytes.count), Names.isAlphanumericAnyCase(bytes[0]), bytes.last != UInt8(ascii: " ") else { return false }
        return bytes.allSatisfy { Names.isAlphanumericAnyCase($0) || " -_.".utf8.contains($0) }
    }

    /// A drive's location as the BMC names it: Smart Array's `Port:Box:Bay` (`1I:1:1`), or a
    /// DMTF drive's `PhysicalLocation.PartLocation.ServiceLabel` (`Slot=18:Port=1:Box=1:Bay=5`).
    public static func isValidLocation(_ location: String) -> Bool {
        let bytes = Array(location.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { Names.isAlphanumericAnyCase($0) || [UInt8(ascii: ":"), UInt8(ascii: "="), UInt8(ascii: "_"),
                                                                UInt8(ascii: "."), UInt8(ascii: "-")].contains($0) }
    }
}

/// One logical drive: its name (how dploy finds it again on the controller), RAID level, the
/// drives it is built from, and its dedicated spares.
public struct LogicalDriveSpec: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var raid: RAIDLevel
    public var drives: DriveSelection
    /// Dedicated spare drives, by location.
    public var spare: [String]

    public init(name: String, raid: RAIDLevel, drives: DriveSelection, spare: [String] = []) {
        self.name = name
        self.raid = raid
        self.drives = drives
        self.spare = spare
    }

    /// `boot Raid1 1I:1:1+1I:1:2`, `data Raid5 3×SSD spare 1I:1:8`
    public var description: String {
        "\(name) \(raid.rawValue) \(drives)" + (spare.isEmpty ? "" : " spare " + spare.joined(separator: "+"))
    }
}

/// Which drives a logical drive is built from: named by location, or any `count` free drives
/// of a media type (the controller, or dploy for DMTF storage, picks them).
public enum DriveSelection: Hashable, Sendable, CustomStringConvertible {
    case locations([String])
    case count(Int, media: DriveMedia)

    public var count: Int {
        switch self {
        case .locations(let locations): locations.count
        case .count(let count, _): count
        }
    }

    public var description: String {
        switch self {
        case .locations(let locations): locations.joined(separator: "+")
        case .count(let count, let media): "\(count)×\(media.rawValue)"
        }
    }
}

public enum DriveMedia: String, CaseIterable, Hashable, Sendable, Codable {
    case HDD, SSD
}

/// RAID levels as HPE's SmartStorageConfig spells them (`Raid` of a logical drive); the DMTF
/// `RAIDType` of each is `redfishType`.
public enum RAIDLevel: String, CaseIterable, Hashable, Sendable, Codable {
    case Raid0, Raid1, Raid5, Raid6, Raid10, Raid50, Raid60, Raid1ADM, Raid10ADM

    /// The fewest data drives the level is built from (Smart Array's rules: RAID 1 is a
    /// mirrored pair, ADM a triple mirror, 50/60 two parity groups).
    public var minimumDrives: Int {
        switch self {
        case .Raid0: 1
        case .Raid1: 2
        case .Raid1ADM: 3
        case .Raid5: 3
        case .Raid6, .Raid10: 4
        case .Raid50, .Raid10ADM: 6
        case .Raid60: 8
        }
    }

    /// DMTF `Volume.RAIDType` (Redfish 2019.1): ADM is a triple mirror.
    public var redfishType: String {
        switch self {
        case .Raid1ADM: "RAID1Triple"
        case .Raid10ADM: "RAID10Triple"
        default: "RAID" + rawValue.dropFirst(4)
        }
    }

    /// The level a DMTF `RAIDType` names; nil for one dploy does not set (`None`, `RAID3`…).
    public init?(redfishType: String) {
        guard let level = RAIDLevel.allCases.first(where: { $0.redfishType == redfishType }) else { return nil }
        self = level
    }

    /// The level a SmartStorage `Raid` names: `Raid1` in SmartStorageConfig, `1` in
    /// ArrayControllers' LogicalDrives.
    public init?(hpe text: String) {
        if let level = RAIDLevel(rawValue: text) { self = level; return }
        guard let level = RAIDLevel(rawValue: "Raid" + text) else { return nil }
        self = level
    }
}

/// `plan --json` and job payloads: `{name, raid, drives | count + media, spare}`, as the spec writes it.
extension LogicalDriveSpec: Codable {
    private enum CodingKeys: String, CodingKey { case name, raid, drives, count, media, spare }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(raid, forKey: .raid)
        switch drives {
        case .locations(let locations): try container.encode(locations, forKey: .drives)
        case .count(let count, let media):
            try container.encode(count, forKey: .count)
            try container.encode(media, forKey: .media)
        }
        try container.encode(spare, forKey: .spare)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        raid = try container.decode(RAIDLevel.self, forKey: .raid)
        if let locations = try container.decodeIfPresent([String].self, forKey: .drives) {
            drives = .locations(locations)
        } else {
            drives = .count(try container.decode(Int.self, forKey: .count), media: try container.decode(DriveMedia.self, forKey: .media))
        }
        spare = try container.decodeIfPresent([String].self, forKey: .spare) ?? []
    }
}
