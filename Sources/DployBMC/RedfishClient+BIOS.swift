import DploySpec

extension RedfishClient {
    /// The BIOS's current attributes and, when it has a settings resource, the pending ones.
    public func bios() async throws -> BIOSReading {
        try await run { try $0.bios() }
    }

    /// Writes `attributes` to the BIOS's pending settings (see `RedfishConnection.setBIOSAttributes`).
    public func setBIOSAttributes(_ attributes: [String: BIOSValue], ifMatch: String?) async throws {
        try await run { try $0.setBIOSAttributes(attributes, ifMatch: ifMatch) }
    }
}

/// The blocking work behind the client's BIOS calls and `BMCDriver.setBIOSAttributes`.
extension RedfishConnection {
    func biosResource() throws -> BiosResource {
        guard let path = try system().biosPath else {
            throw error(.unsupported, "the system lists no Bios resource")
        }
        let response = try get(path)
        var resource = BiosResource(json: response.json ?? .null, etag: response.etag)
        if resource.path.isEmpty { resource.path = path }
        return resource
    }

    /// A Bios (or pending settings) document without an `Attributes` object is a BIOS dploy
    /// could not read, not one that lists nothing: taken as empty, every desired attribute
    /// would look unknown to it.
    func bios() throws -> BIOSReading {
        let current = try biosResource()
        guard current.listsAttributes else {
            throw error(.badResponse, "\(current.path) has no Attributes object: the BIOS settings could not be read")
        }
        guard let settings = current.settingsPath else { return BIOSReading(current: current, pending: nil) }
        let response = try get(settings)
        let pending = BiosResource(json: response.json ?? .null, etag: response.etag)
        guard pending.listsAttributes else {
            throw error(.badResponse, "\(settings) (the pending BIOS settings) has no Attributes object: the BIOS settings could not be read")
        }
        return BIOSReading(current: current, pending: pending)
    }

    /// PATCHes `{"Attributes": attributes}` to the settings resource the Bios resource names
    /// (`@Redfish.Settings.SettingsObject`), with `If-Match: ifMatch`, the ETag of that
    /// resource when the plan read it (nil: the ETag read here, just before the PATCH, which
    /// guards only that moment): the BIOS takes the values at its next reboot. Only the given
    /// attributes are sent, so pending changes someone else made to other attributes stay.
    ///
    /// A 412 means the pending settings changed since that ETag was read (an operator in the
    /// iLO page, another controller): the plan was made from values no longer there. It is an
    /// error that says so, not retried here; the next plan reads them again and decides anew.
    func setBIOSAttributes(_ attributes: [String: BIOSValue], ifMatch: String?) throws {
        let current = try biosResource()
        guard let settings = current.settingsPath else {
            throw error(.unsupported, "\(current.path) names no settings resource (@Redfish.Settings.SettingsObject): this BIOS takes no changes over Redfish")
        }
        let etag = try ifMatch ?? get(settings).etag
        let body = JSONValue.object(["Attributes": .object(attributes.mapValues(\.json))])
        let names = attributes.keys.sorted().joined(separator: ", ")
        do {
            _ = try send(.patch, settings, body: body, ifMatch: etag, doing: "set the BIOS attributes \(names) at \(settings)")
        } catch let failure as BMCError where failure.status == 412 {
            throw error(.http, "the BIOS pending settings at \(settings) changed since dploy read them (HTTP 412, If-Match \(etag ?? "none")): "
                        + "nothing was written; the next plan reads them again", status: 412)
        }
    }
}
