/// Power as a BMC reports it.
public enum PowerState: Hashable, Sendable, CustomStringConvertible, Codable {
    case on, off, poweringOn, poweringOff
    case other(String)

    init(_ text: String?) {
        switch text?.lowercased() {
        case "on": self = .on
        case "off": self = .off
        case "poweringon": self = .poweringOn
        case "poweringoff": self = .poweringOff
        default: self = .other(text ?? "unknown")
        }
    }

    public var description: String {
        switch self {
        case .on: "On"
        case .off: "Off"
        case .poweringOn: "PoweringOn"
        case .poweringOff: "PoweringOff"
        case .other(let text): text
        }
    }

    public init(from decoder: any Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A Redfish ComputerSystem: what `dploy bmc status` shows and what power and boot act on.
public struct ComputerSystem: Hashable, Sendable {
    public var path: String
    public var power: PowerState
    public var health: String?
    public var manufacturer: String?
    public var model: String?
    public var serialNumber: String?
    public var biosVersion: String?
    /// Where `ComputerSystem.Reset` is posted.
    public var resetTarget: String?
    /// `ResetType@Redfish.AllowableValues`; nil when the BMC does not say.
    public var resetTypes: [String]?
    /// `BootSourceOverrideTarget@Redfish.AllowableValues` (or iLO's older `BootSourceOverrideSupported`).
    public var bootTargets: [String]?
    public var bootOverrideTarget: String?
    public var bootOverrideEnabled: String?
    public var biosPath: String?
    public var virtualMediaPath: String?
    /// The managers (BMCs) of this system, from `Links.ManagedBy`.
    public var managers: [String]
    public var etag: String?

    public init(json: JSONValue, etag: String? = nil) {
        path = json.link ?? ""
        power = PowerState(json["PowerState"]?.string)
        health = json[path: "Status", "HealthRollup"]?.string ?? json[path: "Status", "Health"]?.string
        manufacturer = json["Manufacturer"]?.string
        model = json["Model"]?.string
        serialNumber = json["SerialNumber"]?.string
        biosVersion = json["BiosVersion"]?.string
        let reset = json[path: "Actions", "#ComputerSystem.Reset"]
        resetTarget = reset?["target"]?.string
        resetTypes = reset?["ResetType@Redfish.AllowableValues"]?.strings
        bootTargets = json[path: "Boot", "BootSourceOverrideTarget@Redfish.AllowableValues"]?.strings
            ?? json[path: "Boot", "BootSourceOverrideSupported"]?.strings
        bootOverrideTarget = json[path: "Boot", "BootSourceOverrideTarget"]?.string
        bootOverrideEnabled = json[path: "Boot", "BootSourceOverrideEnabled"]?.string
        biosPath = json["Bios"]?.link
        virtualMediaPath = json["VirtualMedia"]?.link
        managers = json[path: "Links", "ManagedBy"]?.array?.compactMap(\.link) ?? []
        self.etag = etag ?? json["@odata.etag"]?.string
    }
}

/// A Redfish Manager: the BMC itself (iLO, iDRAC, OpenBMC).
public struct Manager: Hashable, Sendable {
    public var path: String
    public var model: String?
    public var firmwareVersion: String?
    public var health: String?
    public var virtualMediaPath: String?
    /// HPE iLO (Oem.Hpe, or Oem.Hp on iLO 4).
    public var isHPE: Bool

    public init(json: JSONValue) {
        path = json.link ?? ""
        isHPE = json[path: "Oem", "Hpe"] != nil || json[path: "Oem", "Hp"] != nil
        firmwareVersion = json["FirmwareVersion"]?.string
            ?? json[path: "Oem", "Hpe", "Firmware", "Current", "VersionString"]?.string
        // iLO says "iLO 5 v1.15" in FirmwareVersion and nothing useful in Model on older firmware.
        let version = firmwareVersion ?? ""
        let generation = ["iLO 6", "iLO 5", "iLO 4", "iLO 7"].first { version.hasPrefix($0) }
        model = json["Model"]?.string ?? generation
        health = json[path: "Status", "Health"]?.string
        virtualMediaPath = json["VirtualMedia"]?.link
    }
}
