// Yams's own copy of libyaml: the gate must read the file exactly as the composer will.
internal import CYaml

/// The gate every spec and config file passes before Yams composes it.
///
/// Yams's composer recurses once per nesting level and hashes mapping keys in full, so a
/// few kilobytes of `[[[[…` or an alias inside a key naming an exponentially aliased value
/// could exhaust the stack or the CPU. The gate checks size and UTF-8 on the bytes, then
/// streams libyaml's parser events (linear, no recursion) to bound depth, aliases and
/// expanded nodes before any node is built. A lexical estimate is not enough: libyaml ends
/// a line at `\r`, NEL, U+2028 and U+2029 too, and a check that reads lines differently
/// can be shown one document while the composer builds another.
enum YAMLPreflight {
    /// Decodes `bytes` as UTF-8 text (a leading byte-order mark is dropped) or explains,
    /// with a location, why the file cannot be read.
    static func text(of bytes: [UInt8], file: String, limits: YAMLLimits) -> Result<String, Diagnostic> {
        guard bytes.count <= limits.maxFileBytes else {
            return .failure(Diagnostic(
                "file is \(bytes.count) bytes, over the limit of \(limits.maxFileBytes); split it into several files",
                at: SourceLocation(file: file, line: 1, column: 1)))
        }
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes[3...] : bytes[...]
        guard let text = String(validating: body, as: UTF8.self) else {
            return .failure(Diagnostic(
                "file is not valid UTF-8 (byte \(firstInvalidByte(body).map { String($0, radix: 16) } ?? "?") here); save it as UTF-8",
                at: invalidUTF8Location(body, file: file)))
        }
        if let problem = structureProblem(in: text, limits: limits) {
            return .failure(Diagnostic(problem.message,
                                       at: SourceLocation(file: file, line: problem.line, column: problem.column)))
        }
        return .success(text)
    }

    private static func firstInvalidByte(_ bytes: ArraySlice<UInt8>) -> UInt8? {
        let offset = invalidUTF8Offset(bytes)
        return offset < bytes.endIndex ? bytes[offset] : nil
    }

    private static func invalidUTF8Offset(_ bytes: ArraySlice<UInt8>) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = bytes.startIndex
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput, .error: return offset
            }
        }
    }

    private static func invalidUTF8Location(_ bytes: ArraySlice<UInt8>, file: String) -> SourceLocation {
        let offset = invalidUTF8Offset(bytes)
        // Lines end where libyaml ends them (`\r\n`, `\r`, `\n`, NEL, U+2028, U+2029), so the
        // line is the one its own messages would name.
        var line = 1, lineStart = bytes.startIndex, index = bytes.startIndex
        while index < offset {
            let rest = bytes[index..<offset]
            let breakLength = if rest.starts(with: [0x0D, 0x0A]) { 2 }
                else if rest.first == 0x0D || rest.first == 0x0A { 1 }
                else if rest.starts(with: [0xC2, 0x85]) { 2 }
                else if rest.starts(with: [0xE2, 0x80, 0xA8]) || rest.starts(with: [0xE2, 0x80, 0xA9]) { 3 }
                else { 0 }
            if breakLength > 0 {
                line += 1
                index += breakLength
                lineStart = index
            } else {
                index += 1
            }
        }
        // Columns count characters, as libyaml's do: continuation bytes are not counted.
        let column = bytes[lineStart..<offset].count(where: { $0 & 0xC0 != 0x80 }) + 1
        return SourceLocation(file: file, line: line, column: column)
    }

    struct Problem {
        var message: String
        var line: Int
        var column: Int
    }

    /// Reads the text with libyaml's own event parser (the same scanner Yams uses, so line
    /// breaks, comments, quotes, flow and block forms are read exactly as the composer will
    /// read them) and bounds what the composer would build: nesting depth, aliases, and nodes
    /// once aliases are expanded. An alias anywhere inside a mapping key is refused, whatever
    /// its form (`*a: x`, `[*a]: x`, `{*a: x}: y`, `? - *a`): Yams hashes keys in full, so
    /// one key naming an exponentially aliased value would take forever.
    ///
    /// libyaml's parser keeps its own stacks (no recursion) and streams events, so this
    /// pass is linear in the file whatever it holds. A syntax error ends the pass without a
    /// problem: Yams then reports that error with its own words and location.
    static func structureProblem(in text: String, limits: YAMLLimits) -> Problem? {
        var text = text
        return text.withUTF8 { bytes -> Problem? in
            guard let start = bytes.baseAddress, !bytes.isEmpty else { return nil }
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, start, bytes.count)
            var walk = StructureWalk(limits: limits)
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return nil }
                if let problem = walk.visit(event) { return problem }
            }
            return nil
        }
    }

    /// The bookkeeping of `structureProblem`, one event at a time.
    private struct StructureWalk {
        let limits: YAMLLimits

        struct Collection {
            var isMapping: Bool
            /// This collection is (part of) a mapping key.
            var insideKey: Bool
            var anchor: String?
            /// Nodes in this collection, itself included, with aliases expanded.
            var expandedSize = 1
            var children = 0
        }
        var open: [Collection] = []
        /// Expanded size by anchor. Yams resolves an alias to an anchor of an earlier
        /// document too, so anchors are kept for the whole stream, as it keeps them.
        var anchorSizes: [String: Int] = [:]
        var documentNodes = 0
        var documentAliases = 0

        init(limits: YAMLLimits) { self.limits = limits }

        mutating func visit(_ event: yaml_event_t) -> Problem? {
            let mark = event.start_mark
            func problem(_ message: String) -> Problem {
                Problem(message: message, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
            }
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                documentNodes = 0
                documentAliases = 0
            case YAML_SCALAR_EVENT:
                _ = enterChild()
                if let problem = add(1, anchor: name(event.data.scalar.anchor)).map(problem) { return problem }
            case YAML_ALIAS_EVENT:
                if enterChild() { return problem("an alias cannot be used as a mapping key") }
                documentAliases += 1
                if documentAliases > limits.maxAliases {
                    return problem("document uses more than \(limits.maxAliases) aliases")
                }
                let size = name(event.data.alias.anchor).flatMap { anchorSizes[$0] } ?? 1
                if let problem = add(size, anchor: nil).map(problem) { return problem }
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let insideKey = enterChild()
                let anchor = name(isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor)
                open.append(Collection(isMapping: isMapping, insideKey: insideKey, anchor: anchor))
                if open.count > limits.maxDepth { return problem("nesting is deeper than \(limits.maxDepth) levels") }
                documentNodes += 1
                if documentNodes > limits.maxExpandedNodes { return problem(tooManyNodes) }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let closed = open.popLast() else { break }
                if let anchor = closed.anchor { anchorSizes[anchor] = closed.expandedSize }
                if let last = open.indices.last { open[last].expandedSize += closed.expandedSize }
            default:
                break
            }
            return nil
        }

        var tooManyNodes: String {
            "document holds more than \(limits.maxExpandedNodes) nodes once its aliases are expanded"
        }

        /// Counts the next child of the innermost collection; true when that child is a
        /// mapping key or sits inside one.
        private mutating func enterChild() -> Bool {
            guard let last = open.indices.last else { return false }
            defer { open[last].children += 1 }
            return open[last].insideKey || (open[last].isMapping && open[last].children % 2 == 0)
        }

        /// Adds a leaf (a scalar, or an alias standing for `size` nodes) to the document.
        private mutating func add(_ size: Int, anchor: String?) -> String? {
            if let anchor { anchorSizes[anchor] = size }
            if let last = open.indices.last { open[last].expandedSize += size }
            // Every count stays at most the limit before this addition, and an anchor's size
            // was within it too, so the sum cannot overflow.
            documentNodes += size
            return documentNodes > limits.maxExpandedNodes ? tooManyNodes : nil
        }

        private func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            anchor.map { String(cString: $0) }
        }
    }
}
