/// What a BIOS lists, as far as checking `bios.attributes` needs it (the controller's
/// `BIOSCheck`, as specs load): every attribute name, with the type of the value it holds
/// (nil when it holds null). No values: this is what the store keeps of each machine's BIOS
/// reading, so that commands that read no BMC (`dploy plan`, `apply`, `validate --config`)
/// and a daemon before its first BMC round check specs against the BIOSes last read.
public struct BIOSAttributeTypes: Hashable, Sendable {
    /// Name → the type of its value; a name the BIOS does not list has no entry.
    public private(set) var types: [String: BIOSValueType?]

    public init(types: [String: BIOSValueType?]) {
        self.types = types
    }

    /// From a reading: every name listed, typed by its current value, else by its pending one.
    /// Names a spec could never write (`BIOSSettings.isValidName`) are left out: the check
    /// answers the same for every spec without them, and `text` stays one name a line.
    public init(names: Set<String>, current: [String: BIOSValue], pending: [String: BIOSValue]?) {
        var types: [String: BIOSValueType?] = [:]
        types.reserveCapacity(names.count)
        for name in names where BIOSSettings.isValidName(name) {
            // .some: a name listed with a null is kept, with no type.
            types[name] = .some((current[name] ?? pending?[name])?.type)
        }
        self.types = types
    }

    /// The store's form: one attribute a line in name order, `NAME:T` with T the type's letter
    /// (`s`, `i`, `b`), or `NAME` alone for a null. About 20 bytes an attribute: HPE's recorded
    /// DL380a Gen11 lists 300 in 6,010 bytes (its values as JSON are 9,072).
    public var text: String {
        types.keys.sorted().map { name in types[name]!.map { "\(name):\($0.rawValue)" } ?? name }.joined(separator: "\n")
    }

    /// Reads `text`; nil when a line is not `NAME` or `NAME:T`.
    public init?(text: String) {
        var types: [String: BIOSValueType?] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard BIOSSettings.isValidName(name), parts.count <= 2 else { return nil }
            if parts.count == 2 {
                guard let type = BIOSValueType(rawValue: String(parts[1])) else { return nil }
                types[name] = .some(type)
            } else {
                types[name] = .some(nil)
            }
        }
        self.types = types
    }
}
