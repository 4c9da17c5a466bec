import DployBMC
import DploySpec

/// The bytes as a document a BMC answers: `JSONValue(parsing:)`, then every resource parser
/// dploy reads a Redfish document with (systems, managers, firmware inventory and its
/// members, tasks and task monitors, iLO's update service, Bios and its pending settings,
/// SmartStorage and DMTF storage documents)
/// and the path rules its links go through. A document that is not JSON is refused, which is fine.
///
/// Invariants: a parsed document serializes (as dploy sends PATCH and POST bodies) to
/// bytes that parse back to the same document; path normalization is idempotent and a path
/// is within itself; every BIOS value read goes back to JSON as a PATCH sends it and reads
/// back as the same value (type and all); what a storage document names prints on one line.
enum RedfishFuzz {
    static func run(_ bytes: [UInt8]) {
        guard let json = try? JSONValue(parsing: bytes) else { return }
        let system = ComputerSystem(json: json)
        _ = Manager(json: json)
        _ = InstalledFirmware(json: json)
        _ = UpdateProgress(task: json)
        _ = UpdateProgress(hpeUpdateService: json)
        let bios = BiosResource(json: json)
        for (name, value) in bios.attributes {
            FuzzCheck.require(BIOSValue(json: value.json) == value, "BIOS attribute \(name.debugDescription): \(value) does not read back from \(value.json)")
        }
        var storageText: [String] = []
        if let drive = StorageDocuments.smartStorageLogicalDrive(json) { storageText.append(drive.text) }
        if let drive = StorageDocuments.smartStorageDrive(json) { storageText.append(drive.location) }
        if let drive = StorageDocuments.dmtfDrive(json, path: "/redfish/v1/Chassis/1/Drives/1") { storageText.append(drive.location) }
        storageText.append(StorageDocuments.dmtfVolume(json, path: "/redfish/v1/Systems/1/Storage/1/Volumes/1", locations: [:]).text)
        _ = StorageDocuments.raidLevels(capabilities: json)
        for text in storageText {
            FuzzCheck.require(!text.unicodeScalars.contains(where: Names.isControlOrLineBreak), "storage text \(text.debugDescription) is not one printable line")
        }
        var links = [system.path] + system.managers + [system.resetTarget, system.biosPath, system.virtualMediaPath, bios.settingsPath].compactMap { $0 }
        for member in json["Members"]?.array ?? [] {
            _ = InstalledFirmware(json: member)
            if let link = member.link { links.append(link) }
        }
        for link in links {
            let normalized = RedfishPath.normalized(link)
            FuzzCheck.require(RedfishPath.normalized(normalized) == normalized, "normalizing \(link.debugDescription) twice differs")
            FuzzCheck.require(RedfishPath.isWithin(link, link), "\(link.debugDescription) is not within itself")
        }

        let serialized = json.serialized()
        guard let again = try? JSONValue(parsing: serialized) else {
            FuzzCheck.fail("serialized document does not parse: \(String(decoding: serialized, as: UTF8.self))")
        }
        FuzzCheck.require(again == json, "serialized document reads back differently: \(String(decoding: serialized, as: UTF8.self))")
    }
}
