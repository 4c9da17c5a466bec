import DploySpec

extension RedfishClient {
    /// The machine's RAID controllers with their logical and physical drives (see
    /// `RedfishConnection.storage()`).
    public func storage() async throws -> ObservedStorage {
        try await run { try $0.storage() }
    }

    /// How many HPE Smart Array controllers the system has: SmartStorage's
    /// `ArrayControllers` on iLO 5 (two requests), else DMTF `Storage` members named as Smart
    /// Arrays (SR… Gen11). What the machine page's ACU link asks.
    public func smartArrayControllers() async throws -> Int {
        try await run { connection in
            let system = try connection.get(try connection.systemPath()).json ?? .null
            if let smartStorage = system[path: "Oem", "Hpe", "Links", "SmartStorage"]?.link,
               let arrays = try connection.get(smartStorage).json?[path: "Links", "ArrayControllers"]?.link {
                return try connection.members(arrays).count
            }
            guard let collection = system["Storage"]?.link else { return 0 }
            return try connection.members(collection).count { path in
                StorageDocuments.isSmartArray(model: try connection.get(path).json?["Name"]?.string ?? "")
            }
        }
    }
}

/// The blocking work behind the client's storage calls and `BMCDriver`'s RAID writes.
///
/// Two ways in, chosen per machine: HPE iLO 5 lists its Smart Array controllers' settings
/// in `Oem.Hpe.SmartStorageConfig` (one link per controller), and changes go as one PUT of the
/// whole `LogicalDrives` array to each one's settings resource, applied at the next reboot.
/// iLO 6 (Gen11) has none of that, and neither do other BMCs: they have DMTF `Storage` with
/// `Volumes`, where a POST creates a volume and a DELETE removes one. An iLO 5 also lists its
/// Smart Array under DMTF `Storage` (Gen10 Plus); SmartStorageConfig is then the one used, so
/// a controller is never read, or written, twice.
extension RedfishConnection {
    func storage() throws -> ObservedStorage {
        let response = try get(try systemPath())
        let system = response.json ?? .null
        let configs = system[path: "Oem", "Hpe", "SmartStorageConfig"]?.array?.compactMap(\.link) ?? []
        if !configs.isEmpty {
            let arrays = try smartStorageArrays(system)
            return ObservedStorage(controllers: try configs.map { try smartStorageController($0, arrays: arrays) })
        }
        guard let collection = system["Storage"]?.link else { return ObservedStorage(controllers: []) }
        return ObservedStorage(controllers: try members(collection).compactMap(dmtfController))
    }

    /// SmartStorage `ArrayControllers` by their `Location` (`Slot 12`, as SmartStorageConfig
    /// names its controller): model and physical drives with their media.
    private func smartStorageArrays(_ system: JSONValue) throws -> [String: (model: String, drives: [ObservedDrive])] {
        guard let smartStorage = system[path: "Oem", "Hpe", "Links", "SmartStorage"]?.link,
              let arrays = try get(smartStorage).json?[path: "Links", "ArrayControllers"]?.link else { return [:] }
        var found: [String: (model: String, drives: [ObservedDrive])] = [:]
        for path in try members(arrays) {
            let controller = try get(path).json ?? .null
            let drives = try controller[path: "Links", "PhysicalDrives"]?.link.map { disks in
                try members(disks).compactMap { StorageDocuments.smartStorageDrive(try get($0).json ?? .null) }
            } ?? []
            found[controller["Location"]?.string ?? path] = (StorageDocuments.printable(controller["Model"]?.string ?? "Smart Array"), drives)
        }
        return found
    }

    private func smartStorageController(_ path: String, arrays: [String: (model: String, drives: [ObservedDrive])]) throws -> ObservedController {
        let current = try get(path).json ?? .null
        guard let logicalDrives = current["LogicalDrives"]?.array else {
            throw error(.badResponse, "\(path) has no LogicalDrives array: the Smart Array configuration could not be read")
        }
        guard let settings = current[path: "@Redfish.Settings", "SettingsObject"]?.link else {
            throw error(.unsupported, "\(path) names no settings object (@Redfish.Settings.SettingsObject): this controller takes no changes over Redfish")
        }
        let pendingResponse = try get(settings)
        guard let pending = pendingResponse.json?["LogicalDrives"]?.array else {
            throw error(.badResponse, "\(settings) (the pending Smart Array settings) has no LogicalDrives array")
        }
        let location = StorageDocuments.printable(current["Location"]?.string ?? "")
        let array = arrays[location]
        // Without ArrayControllers the configuration still names its drives, without media.
        let drives = array?.drives ?? (current["PhysicalDrives"]?.array ?? []).compactMap(StorageDocuments.smartStorageDrive)
        let model = array?.model ?? "Smart Array"
        return ObservedController(interface: .smartStorageConfig, name: location.isEmpty ? model : "\(model) (\(location))",
                                  isSmartArray: true, target: settings,
                                  logicalDrives: logicalDrives.compactMap(StorageDocuments.smartStorageLogicalDrive),
                                  pending: pending.compactMap(StorageDocuments.smartStorageLogicalDrive),
                                  settingsETag: pendingResponse.etag, drives: drives)
    }

    /// A DMTF Storage with a `Volumes` collection; nil for one without (an HBA, a boot
    /// device with nothing to configure).
    private func dmtfController(_ path: String) throws -> ObservedController? {
        let storage = try get(path).json ?? .null
        guard let volumes = storage["Volumes"]?.link else { return nil }
        var drives: [ObservedDrive] = []
        for link in (storage["Drives"]?.array ?? []).compactMap(\.link) {
            // A drive link that answers 404 (pulled since the list was made) is no drive to build on.
            guard let json = try getIfPresent(link)?.json else { continue }
            if let drive = StorageDocuments.dmtfDrive(json, path: link) { drives.append(drive) }
        }
        let locations = Dictionary(drives.map { (RedfishPath.normalized($0.path ?? ""), $0.location) }) { first, _ in first }
        let collection = try get(volumes).json ?? .null
        let logicalDrives = try (collection["Members"]?.array ?? []).compactMap(\.link).map {
            StorageDocuments.dmtfVolume(try get($0).json ?? .null, path: $0, locations: locations)
        }
        let capabilities = collection[path: "@Redfish.CollectionCapabilities", "Capabilities"]?.array?
            .first { $0["UseCase"]?.string == "VolumeCreation" }?["CapabilitiesObject"]?.link
        let levels = try capabilities.flatMap { try getIfPresent($0)?.json }.flatMap(StorageDocuments.raidLevels(capabilities:))
        // Named with its Id: two controllers of one model (the DL380a has two MR416i-o) are
        // two job steps, and an operator tells them apart in the plan.
        let model = StorageDocuments.printable(storage["Name"]?.string ?? "Storage")
        let name = storage["Id"]?.string.map { "\(model) (\(StorageDocuments.printable($0)))" } ?? model
        return ObservedController(interface: .volumes, name: name, isSmartArray: StorageDocuments.isSmartArray(model: model),
                                  target: volumes, logicalDrives: logicalDrives, drives: drives, raidLevels: levels)
    }

    // MARK: Writing

    /// PUTs the whole `LogicalDrives` array to SmartStorageConfig's settings resource, for the
    /// controller to validate and apply at the next reboot: `keep` as they are (by
    /// `VolumeUniqueIdentifier`), `delete` with the `LogicalDriveDelete` action, `create` new.
    ///
    /// DataGuard is Strict unless something is deleted: then the controller refuses to
    /// destroy anything left out of the array by mistake. With deletions it is Permissive,
    /// under which only the drives carrying the delete action go (HPE's DataGuard rules);
    /// never Disabled, which would also delete whatever is omitted. `ifMatch` is the settings'
    /// ETag when the plan read them: a write in between is a 412, and nothing is written.
    func writeSmartStorageConfig(_ settings: String, keep: [ObservedLogicalDrive], delete: [ObservedLogicalDrive],
                                 create: [LogicalDriveSpec], ifMatch: String?) throws {
        var entries: [JSONValue] = keep.map { drive in
            .object(["LogicalDriveName": .string(drive.name), "Raid": .string(drive.raidText),
                     "DataDrives": .array(drive.drives.map(JSONValue.string)), "SpareDrives": .array(drive.spare.map(JSONValue.string)),
                     "VolumeUniqueIdentifier": .string(drive.id)])
        }
        entries += delete.map { drive in
            .object(["Actions": .array([.object(["Action": .string("LogicalDriveDelete")])]), "VolumeUniqueIdentifier": .string(drive.id)])
        }
        entries += create.map { drive in
            let data: JSONValue = switch drive.drives {
            case .locations(let locations): .array(locations.map(JSONValue.string))
            case .count(let count, let media): .object(["DataDriveCount": .number(Double(count)), "DataDriveMediaType": .string(media.rawValue)])
            }
            return .object(["LogicalDriveName": .string(drive.name), "Raid": .string(drive.raid.rawValue), "DataDrives": data,
                            "SpareDrives": .array(drive.spare.map(JSONValue.string))])
        }
        let body = JSONValue.object(["DataGuard": .string(delete.isEmpty ? "Strict" : "Permissive"), "LogicalDrives": .array(entries)])
        let etag = try ifMatch ?? get(settings).etag
        do {
            _ = try send(.put, settings, body: body, ifMatch: etag, doing: "write the Smart Array configuration at \(settings)")
        } catch let failure as BMCError where failure.status == 412 {
            throw error(.http, "the pending Smart Array settings at \(settings) changed since dploy read them (HTTP 412, If-Match \(etag ?? "none")): "
                        + "nothing was written; the next plan reads them again", status: 412)
        }
    }

    /// POSTs one volume to a DMTF `Volumes` collection: its RAID type, its drives (by their
    /// `@odata.id`) and its name; the values are JSON-encoded, never spliced into text.
    func createVolume(in collection: String, _ drive: LogicalDriveSpec, drives: [String], spares: [String]) throws {
        var links: [String: JSONValue] = ["Drives": .array(drives.map { .object(["@odata.id": .string($0)]) })]
        if !spares.isEmpty { links["DedicatedSpareDrives"] = .array(spares.map { .object(["@odata.id": .string($0)]) }) }
        let body = JSONValue.object(["RAIDType": .string(drive.raid.redfishType), "DisplayName": .string(drive.name), "Links": .object(links)])
        _ = try send(.post, collection, body: body, doing: "create the volume \(drive.name) in \(collection)")
    }

    func deleteVolume(_ path: String) throws {
        _ = try send(.delete, path, body: nil, doing: "delete the volume \(path)")
    }
}
