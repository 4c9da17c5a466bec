import Yams

/// A scalar resolved by the YAML 1.2 core schema.
///
/// dploy does not use YAML 1.1 resolution: there `on`/`off`/`yes`/`no` are booleans and
/// `12:34:56:00:00:01` is a base-60 integer, which turns power states and MAC addresses
/// into surprises. JSON Schema validators (ruamel.yaml) read YAML 1.2 too, so both agree.
public enum YAMLScalar: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)

    /// Resolves a scalar node: quoted and `!!str`-tagged scalars are strings; plain ones
    /// follow the core schema.
    public init(_ scalar: Node.Scalar) {
        if scalar.style != .plain || scalar.tag.rawValue == Tag.Name.str.rawValue {
            self = .string(scalar.string)
        } else {
            self = YAMLScalar(plain: scalar.string)
        }
    }

    public init(plain text: String) {
        switch text {
        case "", "~", "null", "Null", "NULL": self = .null
        case "true", "True", "TRUE": self = .bool(true)
        case "false", "False", "FALSE": self = .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": self = .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": self = .double(-.infinity)
        case ".nan", ".NaN", ".NAN": self = .double(.nan)
        default:
            if let int = YAMLScalar.integer(text) {
                self = .int(int)
            } else if YAMLScalar.looksLikeFloat(text), let double = Double(text) {
                self = .double(double)
            } else {
                self = .string(text)
            }
        }
    }

    /// A word for error messages: "expected an integer, found a string".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        }
    }

    private static func integer(_ text: String) -> Int? {
        if text.hasPrefix("0o") || text.hasPrefix("0x") {
            let digits = text.dropFirst(2)
            guard !digits.isEmpty, digits.allSatisfy(\.isHexDigit) else { return nil }
            return Int(digits, radix: text.hasPrefix("0o") ? 8 : 16)
        }
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, checked by hand because Swift's
    /// `Double(_:)` also accepts forms (hex floats, "nan") YAML does not.
    private static func looksLikeFloat(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        func digits() -> Int {
            var count = 0
            while let b = bytes.first, b >= 48, b <= 57 { bytes.removeFirst(); count += 1 }
            return count
        }
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { bytes.removeFirst() }
        let whole = digits()
        var fraction = 0
        if bytes.first == UInt8(ascii: ".") {
            bytes.removeFirst()
            fraction = digits()
        } else if whole == 0 {
            return false
        }
        guard whole + fraction > 0 else { return false }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes.removeFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { bytes.removeFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }
}
