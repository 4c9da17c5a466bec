import DploySpec

/// Parsers of the storage documents, one function per document kind, pure: what
/// `RedfishConnection.storage()` reads, link by link.
package enum StorageDocuments {
    /// A name or location as the BMC wrote it, made safe to print: a plan line stays one line
    /// that sends nothing to a terminal, and a long one is cut. Ids (what requests carry)
    /// are kept as sent; they only ever travel JSON-encoded or as the BMC's own links.
    package static func printable(_ text: String) -> String {
        Names.escapingControls(text.unicodeScalars.count > 64 ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(64))) + "…" : text)
    }

    /// A SmartStorageConfig `LogicalDrives` entry (current or pending).
    package static func smartStorageLogicalDrive(_ json: JSONValue) -> ObservedLogicalDrive? {
        guard let id = json["VolumeUniqueIdentifier"]?.string ?? json["LogicalDriveName"]?.string else { return nil }
        let raid = printable(json["Raid"]?.string ?? "unknown")
        var drives = (json["DataDrives"]?.strings ?? []).map(printable)
        // Pending settings echo a PUT that asked for drives by count ({DataDriveCount,
        // DataDriveMediaType}): the controller picks them at the reboot. Until then each is
        // "any SSD", so a count still compares with the spec's.
        if let count = json[path: "DataDrives", "DataDriveCount"]?.int, (0...StorageSettings.maxDrives).contains(count) {
            let media = json[path: "DataDrives", "DataDriveMediaType"]?.string ?? "drive"
            drives = (0..<count).map { "(any \(media) #\($0 + 1))" }
        }
        return ObservedLogicalDrive(name: printable(json["LogicalDriveName"]?.string ?? id), raid: RAIDLevel(hpe: raid), raidText: raid,
                                    drives: drives, spare: (json["SpareDrives"]?.strings ?? []).map(printable), id: id)
    }

    /// A SmartStorage `DiskDrives` member: its `Location` (Port:Box:Bay) and media.
    package static func smartStorageDrive(_ json: JSONValue) -> ObservedDrive? {
        guard let location = json["Location"]?.string.map(printable) else { return nil }
        return ObservedDrive(location: location, media: json["MediaType"]?.string.flatMap(DriveMedia.init(rawValue:)))
    }

    /// A DMTF Drive: its service label (`Slot=18:Port=1:Box=1:Bay=5`, else its Id) and media;
    /// nil for an empty bay (`Status.State` Absent), which holds no drive to build on.
    package static func dmtfDrive(_ json: JSONValue, path: String) -> ObservedDrive? {
        guard json[path: "Status", "State"]?.string != "Absent" else { return nil }
        guard let location = (json[path: "PhysicalLocation", "PartLocation", "ServiceLabel"]?.string ?? json["Id"]?.string).map(printable) else { return nil }
        return ObservedDrive(location: location, media: json["MediaType"]?.string.flatMap(DriveMedia.init(rawValue:)), path: path)
    }

    /// A DMTF Volume: drives by their locations (`locations` maps a drive's path to it).
    package static func dmtfVolume(_ json: JSONValue, path: String, locations: [String: String]) -> ObservedLogicalDrive {
        let raid = printable(json["RAIDType"]?.string ?? "unknown")
        func named(_ key: String) -> [String] {
            (json[path: "Links", key]?.array ?? []).compactMap(\.link).map { locations[RedfishPath.normalized($0)] ?? printable($0) }
        }
        return ObservedLogicalDrive(name: printable(json["DisplayName"]?.string ?? json["Name"]?.string ?? path),
                                    raid: RAIDLevel(redfishType: raid), raidText: raid,
                                    drives: named("Drives"), spare: named("DedicatedSpareDrives"), id: path)
    }

    /// `RAIDType@Redfish.AllowableValues` of a `Volumes/Capabilities` document, as the levels
    /// dploy knows; nil when it lists none.
    package static func raidLevels(capabilities json: JSONValue) -> [RAIDLevel]? {
        json["RAIDType@Redfish.AllowableValues"]?.strings.map { $0.compactMap(RAIDLevel.init(redfishType:)) }
    }

    /// Whether a controller's model is an HPE Smart Array (SR… or P…, "Smart Array"): what
    /// HPE's Array Configuration Utility manages. MegaRAID (MR…) and NVMe boot devices are not.
    package static func isSmartArray(model: String) -> Bool {
        if model.contains("Smart Array") { return true }
        return model.split(separator: " ").contains { word in
            (word.hasPrefix("SR") && word.dropFirst(2).first?.isNumber == true)
                || (word.hasPrefix("P") && word.count >= 4 && word.dropFirst().first?.isNumber == true)
        }
    }
}
