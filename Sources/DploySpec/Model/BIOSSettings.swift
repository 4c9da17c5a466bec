/// BIOS settings a machine should have: attribute name → value, as the BIOS's Redfish
/// `Attributes` spells them (`ProcHyperthreading: Disabled`, `NetworkBootRetryCount: 20`).
/// dploy does not know what each attribute means; the machine's BIOS does, so names are
/// checked against what it lists when the plan is made.
public struct BIOSSettings: Hashable, Sendable, CustomStringConvertible {
    public var attributes: [String: BIOSValue]

    public init(attributes: [String: BIOSValue]) {
        self.attributes = attributes
    }

    /// `{A: "x", B: 2}` in name order, strings quoted: how `dploy machine` and a group
    /// conflict show the field. (Group defaults are compared as values, not as this text.)
    public var description: String {
        "{" + attributes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }

    /// At most this many attributes in one map: HPE's largest registries list about 1,000.
    public static let maxAttributes = 1024
    /// A string value's length at most, in Unicode scalars (JSON Schema's `maxLength` counts
    /// them too): BIOS strings (admin names, URLs) are far shorter.
    public static let maxStringLength = 256
    /// Integers a Redfish number holds exactly: JSON numbers go through `Double`, whose
    /// integers are exact up to 2^53 − 1.
    public static let integerRange = -9_007_199_254_740_991...9_007_199_254_740_991

    /// A BIOS attribute name: Redfish attribute names are identifiers (`^[A-Za-z][A-Za-z0-9_]*$`
    /// in the Attribute Registry schema); 64 characters is more than any HPE registry uses.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 64 else { return false }
        func ascii(_ scalar: Unicode.Scalar) -> Bool { scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)) }
        return first.isASCII && first.properties.isAlphabetic
            && name.unicodeScalars.allSatisfy { ascii($0) || $0 == "_" }
    }
}

/// One BIOS attribute's value. Redfish BIOS attributes are strings (enumerations included),
/// integers or booleans; the three are kept apart so that `20` and `"20"` do not compare equal
/// by accident and a PATCH sends the type the BIOS expects.
public enum BIOSValue: Hashable, Sendable, CustomStringConvertible, Codable {
    case string(String)
    case integer(Int)
    case boolean(Bool)

    /// As plans, reasons and errors show it: a string in double quotes with control
    /// characters escaped (a BMC reports what it likes, and a plan line must stay one line
    /// that sends nothing to a terminal), so `"20"` and `20` look as different as they are.
    public var description: String {
        switch self {
        case .string(let text): Names.quoted(text)
        case .integer(let number): String(number)
        case .boolean(let flag): flag ? "true" : "false"
        }
    }

    public var type: BIOSValueType {
        switch self {
        case .string: .string
        case .integer: .integer
        case .boolean: .boolean
        }
    }

    /// "a string", for messages that say which type was found and which was wanted.
    public var typeName: String { type.name }

    public func isSameType(as other: BIOSValue) -> Bool { type == other.type }

    /// A JSON scalar, as in a plan's JSON form and a Redfish PATCH body.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            self = .boolean(flag)
        } else if let number = try? container.decode(Int.self) {
            self = .integer(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .integer(let number): try container.encode(number)
        case .boolean(let flag): try container.encode(flag)
        }
    }
}

/// The three types a BIOS attribute's value has. The raw value is the letter
/// `BIOSAttributeTypes.text` writes.
public enum BIOSValueType: String, Hashable, Sendable {
    case string = "s"
    case integer = "i"
    case boolean = "b"

    /// "a string", for messages that say which type was found and which was wanted.
    public var name: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean"
        }
    }
}
