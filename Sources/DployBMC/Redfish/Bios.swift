import DploySpec

/// A Redfish `Bios` resource: the current settings (`Systems/N/Bios`, read-only) or the
/// pending ones (its `@Redfish.Settings.SettingsObject`, `Bios/Settings` on iLO), which the
/// BIOS reads at the next reboot. Both have the same shape.
public struct BiosResource: Hashable, Sendable {
    public var path: String
    /// The attributes whose values are a string, an integer or a boolean: what a spec can set.
    public var attributes: [String: BIOSValue]
    /// Every attribute name listed, whatever its value (JSON null included): what the BIOS knows.
    public var names: Set<String>
    /// Whether the document has an `Attributes` object at all. Without one the resource says
    /// nothing about the BIOS (it is not a BIOS that lists no attributes): see `RedfishConnection.bios()`.
    public var listsAttributes: Bool
    /// `AttributeRegistry` (`BiosAttributeRegistryU58.v1_2_44`), which names the BIOS family.
    public var attributeRegistry: String?
    /// Where changes go: `@Redfish.Settings.SettingsObject`; nil on the pending resource
    /// itself and on a BIOS that takes no settings.
    public var settingsPath: String?
    /// `@Redfish.Settings.Messages` of the current resource: how the last apply at boot went
    /// (`Base.1.0.Success`, or e.g. `PropertyUnknown` naming a rejected attribute). iLO spells
    /// the key `MessageId`, some older bodies `MessageID`; both are read.
    public var settingsMessages: [String]
    /// The resource's ETag: the header when there was one, else `@odata.etag`.
    public var etag: String?

    public init(json: JSONValue, etag: String? = nil) {
        path = json.link ?? ""
        let raw = json["Attributes"]?.object ?? [:]
        listsAttributes = json["Attributes"]?.object != nil
        names = Set(raw.keys)
        attributes = raw.compactMapValues(BIOSValue.init(json:))
        attributeRegistry = json["AttributeRegistry"]?.string
        let settings = json["@Redfish.Settings"]
        settingsPath = settings?["SettingsObject"]?.link
        settingsMessages = (settings?["Messages"]?.array ?? []).compactMap { $0["MessageId"]?.string ?? $0["MessageID"]?.string }
        self.etag = etag ?? json["@odata.etag"]?.string
    }
}

/// The BIOS as a machine's BMC reports it: current attributes, and the pending ones when the
/// BIOS has a settings resource. What the planner compares a machine's `bios` with.
public struct BIOSReading: Hashable, Sendable, Codable {
    /// Current values (what the machine booted with).
    public var current: [String: BIOSValue]
    /// Every attribute the BIOS lists, values of any type: a name not here is unknown to it.
    public var names: Set<String>
    /// Values the BIOS takes at the next reboot; nil when it has no settings resource.
    public var pending: [String: BIOSValue]?
    /// The pending settings' ETag as read: what a write of them sends as `If-Match`.
    public var pendingETag: String?

    public init(current: BiosResource, pending: BiosResource?) {
        self.current = current.attributes
        names = current.names
        self.pending = pending?.attributes
        pendingETag = pending?.etag
    }
}

extension BIOSValue {
    /// A JSON scalar as a BIOS value; nil for null, a fraction, an array or an object, which
    /// no spec can ask for. A number must be whole: 2.5 is not read as 2 or 3.
    package init?(json: JSONValue) {
        switch json {
        case .string(let text): self = .string(text)
        case .bool(let flag): self = .boolean(flag)
        case .number(let number):
            guard number.isFinite, let whole = Int(exactly: number) else { return nil }
            self = .integer(whole)
        case .null, .array, .object: return nil
        }
    }

    /// The value as a PATCH body carries it.
    package var json: JSONValue {
        switch self {
        case .string(let text): .string(text)
        case .integer(let number): .number(Double(number))
        case .boolean(let flag): .bool(flag)
        }
    }
}
