import Yams

/// Reads the fields of one YAML mapping into typed values, logging every problem instead
/// of stopping at the first: a wrong type, a missing field, a value out of range. Fields
/// that were never asked for are reported by `finish()` as unknown, with a suggestion.
package final class MappingReader {
    let mapping: Node.Mapping
    let path: String
    package let mark: Mark?
    let log: DiagnosticLog
    private var consumed: Set<String> = []
    /// Key text by pair index, read once: looking fields up by string then copies no nodes.
    private let keys: [String?]

    /// - Parameter path: where the mapping sits, like `spec.bmc`; empty for a document root.
    init?(_ node: Node, path: String, log: DiagnosticLog) {
        guard case .mapping(let mapping) = node else {
            log.error("\(MappingReader.describe(path)) must be a mapping, found \(MappingReader.kindName(of: node))",
                      at: node.mark)
            return nil
        }
        self.mapping = mapping
        self.keys = mapping.map { $0.key.scalar?.string }
        self.path = path
        self.mark = node.mark
        self.log = log
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func location(of key: String) -> SourceLocation { log.location(value(key)?.mark ?? mark) }

    /// The node under `key`, marking the field as known.
    func value(_ key: String) -> Node? {
        consumed.insert(key)
        return keys.firstIndex(of: key).map { mapping[mapping.index(mapping.startIndex, offsetBy: $0)].value }
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func requireField(_ key: String) -> Node? {
        guard let node = value(key) else {
            log.error("missing required field '\(fieldPath(key))'", at: mark)
            return nil
        }
        return node
    }

    // MARK: Scalars

    func scalar(_ key: String, required: Bool) -> (YAMLScalar, Mark?)? {
        guard let node = required ? requireField(key) : value(key) else { return nil }
        guard case .scalar(let scalar) = node else {
            log.error("'\(fieldPath(key))' must be a scalar, found \(MappingReader.kindName(of: node))", at: node.mark)
            return nil
        }
        return (YAMLScalar(scalar), node.mark)
    }

    package func string(_ key: String, required: Bool = false) -> Located<String>? {
        guard let (scalar, mark) = scalar(key, required: required) else { return nil }
        guard case .string(let text) = scalar else {
            let hint = if case .double = scalar { "; quote it if it is a version or a name" } else { "" }
            log.error("'\(fieldPath(key))' must be a string, found \(scalar.typeName)\(hint)", at: mark)
            return nil
        }
        return Located(text, at: log.location(mark))
    }

    package func int(_ key: String, required: Bool = false, minimum: Int? = nil) -> Located<Int>? {
        guard let (scalar, mark) = scalar(key, required: required) else { return nil }
        guard case .int(let number) = scalar else {
            if case .double(let value) = scalar, value.magnitude >= Double(Int.max) {
                log.error("'\(fieldPath(key))' is out of range: integers go up to \(Int.max)", at: mark)
            } else {
                log.error("'\(fieldPath(key))' must be an integer, found \(scalar.typeName)", at: mark)
            }
            return nil
        }
        if let minimum, number < minimum {
            log.error("'\(fieldPath(key))' must be at least \(minimum), found \(number)", at: mark)
            return nil
        }
        return Located(number, at: log.location(mark))
    }

    package func bool(_ key: String, required: Bool = false) -> Located<Bool>? {
        guard let (scalar, mark) = scalar(key, required: required) else { return nil }
        guard case .bool(let flag) = scalar else {
            log.error("'\(fieldPath(key))' must be true or false, found \(scalar.typeName)", at: mark)
            return nil
        }
        return Located(flag, at: log.location(mark))
    }

    package func choice<Choice>(_ key: String, required: Bool = false, as type: Choice.Type = Choice.self) -> Located<Choice>?
    where Choice: RawRepresentable<String> & CaseIterable & Hashable & Sendable {
        guard let (scalar, mark) = scalar(key, required: required) else { return nil }
        let allowed = Choice.allCases.map(\.rawValue)
        let listed = allowed.joined(separator: ", ")
        guard case .string(let text) = scalar else {
            log.error("'\(fieldPath(key))' must be one of \(listed), found \(scalar.typeName)", at: mark)
            return nil
        }
        guard let value = Choice(rawValue: text) else {
            log.error("'\(fieldPath(key))' must be one of \(listed), found '\(text)'"
                      + Suggestion.phrase(for: text, in: allowed), at: mark)
            return nil
        }
        return Located(value, at: log.location(mark))
    }

    /// A string checked by `parse`, which returns nil and an explanation when the text is not valid.
    package func parsed<Value>(_ key: String, required: Bool = false,
                       _ parse: (String) -> Result<Value, ValueError>) -> Located<Value>? {
        guard let text = string(key, required: required) else { return nil }
        switch parse(text.value) {
        case .success(let value):
            return Located(value, at: text.location)
        case .failure(let error):
            log.append(Diagnostic("'\(fieldPath(key))' \(error.reason)", at: text.location))
            return nil
        }
    }

    // MARK: Collections

    package func mapping(_ key: String, required: Bool = false) -> MappingReader? {
        guard let node = required ? requireField(key) : value(key) else { return nil }
        return MappingReader(node, path: fieldPath(key), log: log)
    }

    /// The items of a sequence field with their paths (`spec.components[0]`).
    func sequence(_ key: String, required: Bool = false, nonEmpty: Bool = false) -> [(node: Node, path: String)]? {
        guard let node = required ? requireField(key) : value(key) else { return nil }
        guard case .sequence(let sequence) = node else {
            log.error("'\(fieldPath(key))' must be a list, found \(MappingReader.kindName(of: node))", at: node.mark)
            return nil
        }
        if nonEmpty && sequence.isEmpty {
            log.error("'\(fieldPath(key))' must not be empty", at: node.mark)
        }
        return sequence.enumerated().map { ($0.element, "\(fieldPath(key))[\($0.offset)]") }
    }

    func stringList(_ key: String, required: Bool = false, nonEmpty: Bool = false) -> [Located<String>]? {
        guard let items = sequence(key, required: required, nonEmpty: nonEmpty) else { return nil }
        return items.compactMap { item in
            guard case .scalar(let scalar) = item.node, case .string(let text) = YAMLScalar(scalar) else {
                log.error("'\(item.path)' must be a string", at: item.node.mark)
                return nil
            }
            return Located(text, at: log.location(item.node.mark))
        }
    }

    /// A mapping of strings to strings, such as labels or a selector.
    package func stringMap(_ key: String, required: Bool = false) -> [String: Located<String>]? {
        guard let node = required ? requireField(key) : value(key) else { return nil }
        guard case .mapping(let mapping) = node else {
            log.error("'\(fieldPath(key))' must be a mapping of strings, found \(MappingReader.kindName(of: node))",
                      at: node.mark)
            return nil
        }
        var result: [String: Located<String>] = [:]
        for (k, v) in mapping {
            guard case .scalar(let keyScalar) = k, case .string(let name) = YAMLScalar(keyScalar) else {
                log.error("keys of '\(fieldPath(key))' must be strings", at: k.mark)
                continue
            }
            guard case .scalar(let valueScalar) = v, case .string(let text) = YAMLScalar(valueScalar) else {
                log.error("'\(fieldPath(key)).\(name)' must be a string; quote it", at: v.mark)
                continue
            }
            result[name] = Located(text, at: log.location(v.mark))
        }
        return result
    }

    /// A mapping of names to scalars (BIOS attributes), each resolved by the YAML 1.2 core
    /// schema and located (the value, and the name: an error about the name points at it);
    /// what the values may be is the caller's rule. Keys must be strings, values scalars.
    package func scalarMap(_ key: String) -> [(name: String, value: YAMLScalar, location: SourceLocation, nameLocation: SourceLocation)]? {
        guard let node = value(key) else { return nil }
        guard case .mapping(let mapping) = node else {
            log.error("'\(fieldPath(key))' must be a mapping, found \(MappingReader.kindName(of: node))", at: node.mark)
            return nil
        }
        var result: [(name: String, value: YAMLScalar, location: SourceLocation, nameLocation: SourceLocation)] = []
        for (k, v) in mapping {
            guard case .scalar(let keyScalar) = k, case .string(let name) = YAMLScalar(keyScalar) else {
                log.error("keys of '\(fieldPath(key))' must be strings", at: k.mark)
                continue
            }
            guard case .scalar(let valueScalar) = v else {
                log.error("'\(fieldPath(key)).\(name)' must be a single value, found \(MappingReader.kindName(of: v))", at: v.mark)
                continue
            }
            result.append((name, YAMLScalar(valueScalar), log.location(v.mark), log.location(k.mark)))
        }
        return result
    }

    // MARK: Unknown fields

    /// Reports every field that no accessor asked for. Call once, after reading.
    package func finish() {
        for (key, _) in mapping {
            guard case .scalar(let scalar) = key else {
                log.error("keys of \(MappingReader.describe(path)) must be strings, found \(MappingReader.kindName(of: key))",
                          at: key.mark)
                continue
            }
            let name = scalar.string
            if consumed.contains(name) { continue }
            if name == "<<" {
                log.error("YAML merge keys (<<) are not supported; share values with a Group's defaults", at: key.mark)
                continue
            }
            log.error("unknown field '\(fieldPath(name))'" + Suggestion.phrase(for: name, in: consumed.sorted()),
                      at: key.mark)
        }
    }

    static func describe(_ path: String) -> String { path.isEmpty ? "a document" : "'\(path)'" }

    static func kindName(of node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar): YAMLScalar(scalar).typeName
        }
    }
}

/// Why a string is not a valid value of its field, phrased to follow the field's name.
public struct ValueError: Error, Hashable, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}
