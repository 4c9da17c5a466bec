/// Where the next boot goes.
public enum BootTarget: String, Sendable, CaseIterable {
    /// Network boot (PXE), what installs start with.
    case pxe = "Pxe"
    /// UEFI HTTP boot, where the BMC offers it.
    case uefiHTTP = "UefiHttp"
}

/// A virtual CD/DVD drive and what is in it.
public struct VirtualMediaState: Hashable, Sendable, Codable {
    public var path: String
    public var image: String?
    public var inserted: Bool
}

extension RedfishClient {
    /// Boots from `target` once, at the next reset. Sends the ETag back as If-Match when the
    /// BMC gave one, so a change made meanwhile (by an operator in the iLO page) is not
    /// overwritten silently; a 412 re-reads and tries once more.
    public func bootOnce(from target: BootTarget = .pxe) async throws {
        try await run { try $0.bootOnce(from: target) }
    }

    /// The virtual CD/DVD drive: under the system (newer Redfish, sushy-tools) or under the
    /// manager (iLO 5: `Managers/1/VirtualMedia/2`), the member whose MediaTypes has CD or DVD.
    public func virtualMedia() async throws -> VirtualMediaState {
        try await run { try Self.cdDrive(connection: $0).state }
    }

    /// Inserts the image at `imageURL` (the BMC downloads it) into the virtual CD drive.
    /// On iLO it also sets `Oem.Hpe.BootOnNextServerReset` when `bootOnNextReset` is true.
    public func insertVirtualMedia(_ imageURL: String, bootOnNextReset: Bool = false) async throws {
        try await run { connection in
            let drive = try Self.cdDrive(connection: connection)
            if drive.state.inserted {
                // A drive holds one image: eject the old one first, as an operator would.
                try Self.eject(drive, connection: connection)
            }
            if let insert = drive.json[path: "Actions", "#VirtualMedia.InsertMedia", "target"]?.string {
                _ = try connection.send(.post, insert, body: .object([
                    "Image": .string(imageURL), "Inserted": .bool(true), "WriteProtected": .bool(true),
                ]), doing: "insert \(imageURL) into \(drive.state.path)")
            } else {
                _ = try connection.send(.patch, drive.state.path, body: .object(["Image": .string(imageURL)]),
                                        doing: "insert \(imageURL) into \(drive.state.path)")
            }
            if bootOnNextReset, drive.json[path: "Oem", "Hpe"] != nil {
                _ = try connection.send(.patch, drive.state.path, body: .object(["Oem": .object(["Hpe": .object(["BootOnNextServerReset": .bool(true)])])]),
                                        doing: "boot from virtual media at the next reset")
            }
        }
    }

    public func ejectVirtualMedia() async throws {
        try await run { connection in
            let drive = try Self.cdDrive(connection: connection)
            guard drive.state.inserted else { return }
            try Self.eject(drive, connection: connection)
        }
    }

    private static func eject(_ drive: (state: VirtualMediaState, json: JSONValue), connection: RedfishConnection) throws {
        if let eject = drive.json[path: "Actions", "#VirtualMedia.EjectMedia", "target"]?.string {
            _ = try connection.send(.post, eject, body: .object([:]), doing: "eject \(drive.state.path)")
        } else {
            _ = try connection.send(.patch, drive.state.path, body: .object(["Image": .null]), doing: "eject \(drive.state.path)")
        }
    }

    private static func cdDrive(connection: RedfishConnection) throws -> (state: VirtualMediaState, json: JSONValue) {
        let system = try connection.system()
        var collection = system.virtualMediaPath
        if collection == nil { collection = try connection.manager(of: system)?.virtualMediaPath }
        guard let collection else {
            throw connection.error(.unsupported, "neither the system nor its manager lists VirtualMedia")
        }
        for member in try connection.members(collection) {
            guard let json = try connection.get(member).json else { continue }
            let types = json["MediaTypes"]?.strings ?? []
            if types.contains(where: { $0 == "CD" || $0 == "DVD" }) {
                let image = json["Image"]?.string.flatMap { $0.isEmpty ? nil : $0 }
                let inserted = json["Inserted"]?.bool ?? (image != nil)
                return (VirtualMediaState(path: json.link ?? member, image: image, inserted: inserted), json)
            }
        }
        throw connection.error(.unsupported, "\(collection) has no CD or DVD drive")
    }
}

extension RedfishConnection {
    func bootOnce(from target: BootTarget) throws {
        for attempt in 1...2 {
            let system = try system()
            if let allowed = system.bootTargets, !allowed.isEmpty, !allowed.contains(target.rawValue) {
                throw error(.unsupported, "cannot boot once from \(target.rawValue): the BMC allows \(allowed.joined(separator: ", "))")
            }
            let body = JSONValue.object(["Boot": .object([
                "BootSourceOverrideTarget": .string(target.rawValue),
                "BootSourceOverrideEnabled": .string("Once"),
            ])])
            do {
                _ = try send(.patch, system.path, body: body, ifMatch: system.etag, doing: "set a one-time boot from \(target.rawValue)")
                return
            } catch let error as BMCError where error.status == 412 && attempt == 1 {
                continue  // the system changed since it was read: read it again
            }
        }
    }
}
