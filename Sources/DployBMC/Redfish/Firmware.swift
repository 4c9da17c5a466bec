/// One entry of `UpdateService/FirmwareInventory`: what is installed (DploySpec's
/// `FirmwareComponent` is what a baseline wants).
public struct InstalledFirmware: Hashable, Sendable, Codable {
    public var id: String
    public var name: String
    public var version: String
    /// Nil when the BMC does not say (some iLO 5 versions leave `Updateable` out).
    public var updateable: Bool?
    public var health: String?
    /// HPE's `Oem.Hpe.DeviceContext` (`System Board`, `Slot 3`): tells same-named parts apart.
    public var deviceContext: String?

    public init(json: JSONValue) {
        id = json["Id"]?.string ?? json.link.map { RedfishPath.normalized($0).split(separator: "/").last.map(String.init) ?? $0 } ?? ""
        name = json["Name"]?.string ?? id
        version = json["Version"]?.string ?? ""
        updateable = json["Updateable"]?.bool
        health = json[path: "Status", "Health"]?.string
        deviceContext = json[path: "Oem", "Hpe", "DeviceContext"]?.string
    }
}

/// Where a firmware update stands.
public struct UpdateProgress: Hashable, Sendable, Codable {
    public enum Phase: String, Hashable, Sendable, Codable {
        case running, completed, failed
        /// The task finished and its record is gone (iLO answers ResourceMissingAtURI), and
        /// nothing else says how it ended.
        case vanished
    }

    public var phase: Phase
    /// What the BMC calls the state (`Running`, iLO's `Writing`).
    public var state: String
    public var percent: Int?
    public var message: String?

    public init(phase: Phase, state: String, percent: Int? = nil, message: String? = nil) {
        self.phase = phase
        self.state = state
        self.percent = percent
        self.message = message
    }

    /// A Redfish Task (or what a task monitor answers while it runs).
    public init(task json: JSONValue) {
        state = json["TaskState"]?.string ?? "Unknown"
        percent = json["PercentComplete"]?.int
        let messages = (json["Messages"]?.array ?? []).compactMap { $0["Message"]?.string ?? $0["MessageId"]?.string }
        message = messages.isEmpty ? nil : messages.joined(separator: "; ")
        switch state {
        case "Completed":
            phase = json["TaskStatus"]?.string == "Critical" ? .failed : .completed
        case "Exception", "Killed", "Cancelled", "Interrupted":
            phase = .failed
        default:
            phase = .running
        }
    }

    /// iLO's own update state: `UpdateService` → `Oem.Hpe.State` and `FlashProgressPercent`.
    /// iLO 5 answers SimpleUpdate without a task; this is how its progress shows.
    public init?(hpeUpdateService json: JSONValue) {
        guard let hpe = json[path: "Oem", "Hpe"], let state = hpe["State"]?.string else { return nil }
        self.state = state
        percent = hpe["FlashProgressPercent"]?.int
        message = hpe[path: "Result", "MessageId"]?.string
        switch state {
        case "Complete": phase = .completed
        case "Error": phase = .failed
        default: phase = .running  // Idle, Uploading, Verifying, Writing, Updating, …
        }
    }
}
