/// Checks run on a file's bytes before libyaml sees them.
///
/// The YAML composer recurses once per nesting level and hashes mapping keys in full, so a
/// few kilobytes of `[[[[…` or an alias used as a key to an exponentially aliased value
/// could exhaust the stack or the CPU. A light lexical pass bounds both, conservatively:
/// it may over-count depth, never under-count it.
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
        if let problem = structureProblem(in: text.utf8, limits: limits) {
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
        let before = bytes[bytes.startIndex..<offset]
        let line = before.count(where: { $0 == 0x0A }) + 1
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? bytes.startIndex
        // Columns count characters, as libyaml's do: continuation bytes are not counted.
        let column = bytes[lineStart..<offset].count(where: { $0 & 0xC0 != 0x80 }) + 1
        return SourceLocation(file: file, line: line, column: column)
    }

    struct Problem {
        var message: String
        var line: Int
        var column: Int
    }

    // ASCII bytes the scan cares about.
    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r"), hash = UInt8(ascii: "#"), dash = UInt8(ascii: "-")
    private static let question = UInt8(ascii: "?"), colon = UInt8(ascii: ":"), comma = UInt8(ascii: ",")
    private static let star = UInt8(ascii: "*"), pipe = UInt8(ascii: "|"), greater = UInt8(ascii: ">")
    private static let singleQuote = UInt8(ascii: "'"), doubleQuote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    private static let ampersand = UInt8(ascii: "&"), bang = UInt8(ascii: "!")

    private static func isAnchorCharacter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            || byte >= 0x80
    }
    private static let openers: Set<UInt8> = [UInt8(ascii: "["), UInt8(ascii: "{")]
    private static let closers: Set<UInt8> = [UInt8(ascii: "]"), UInt8(ascii: "}")]

    /// Estimates nesting depth line by line (indentation levels, `- ` and `? ` indicators,
    /// open flow brackets) and finds aliases used as mapping keys.
    static func structureProblem(in utf8: String.UTF8View, limits: YAMLLimits) -> Problem? {
        let bytes = Array(utf8)
        var indentStack: [Int] = []
        var flowDepth = 0
        var quote: UInt8? = nil           // open quoted scalar, possibly spanning lines
        var blockScalarIndent: Int? = nil // inside `|` or `>` content deeper than this
        var lineNumber = 0
        var lineStart = 0

        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != newline { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            var contentEnd = lineEnd
            if contentEnd > lineStart, bytes[contentEnd - 1] == carriageReturn { contentEnd -= 1 }

            var position = lineStart
            while position < contentEnd, bytes[position] == space { position += 1 }
            let indent = position - lineStart
            let blank = position == contentEnd || bytes[position] == hash

            if let scalarIndent = blockScalarIndent {
                if blank || indent > scalarIndent { continue }
                blockScalarIndent = nil
            }
            if quote == nil, flowDepth == 0 {
                if blank { continue }
                while let last = indentStack.last, last >= indent { indentStack.removeLast() }
                indentStack.append(indent)
            }

            var indicators = 0
            var valueStart = true
            // A document marker may carry the document's value on its line: `--- |`, `--- [`.
            if quote == nil, flowDepth == 0, indent == 0, position + 2 < contentEnd,
               bytes[position] == dash, bytes[position + 1] == dash, bytes[position + 2] == dash,
               position + 3 == contentEnd || bytes[position + 3] == space || bytes[position + 3] == tab {
                position += 3
                indentStack = []
            }
            var lastToken: UInt8 = space    // last non-blank byte, `?` only as an indicator
            var previousByte: UInt8 = space
            while position < contentEnd {
                defer { if position > lineStart, position - 1 < contentEnd { previousByte = bytes[position - 1] } }
                let byte = bytes[position]
                if let open = quote {
                    if open == doubleQuote, byte == backslash { position += 2; continue }
                    if byte == open {
                        if open == singleQuote, position + 1 < contentEnd, bytes[position + 1] == singleQuote {
                            position += 2; continue
                        }
                        quote = nil
                        valueStart = false
                    }
                    position += 1
                    continue
                }
                let next: UInt8 = position + 1 < contentEnd ? bytes[position + 1] : space
                let nextIsBlank = next == space || next == tab
                switch byte {
                case space, tab:
                    break
                case hash where previousByte == space || previousByte == tab:
                    position = contentEnd
                    continue
                case dash where valueStart && nextIsBlank, question where valueStart && nextIsBlank:
                    indicators += 1
                case singleQuote where valueStart, doubleQuote where valueStart:
                    quote = byte
                case _ where openers.contains(byte) && (valueStart || flowDepth > 0):
                    flowDepth += 1
                    valueStart = true
                    let depth = indentStack.count * 2 + indicators + flowDepth
                    if depth > limits.maxDepth {
                        return Problem(message: "nesting is deeper than \(limits.maxDepth) levels", line: lineNumber,
                                       column: position - lineStart + 1)
                    }
                    lastToken = byte
                    position += 1
                    continue
                case _ where closers.contains(byte) && flowDepth > 0:
                    flowDepth -= 1
                case comma where flowDepth > 0:
                    valueStart = true
                    lastToken = byte
                    position += 1
                    continue
                case colon where nextIsBlank || (flowDepth > 0 && (openers.contains(next) || closers.contains(next) || next == comma)):
                    valueStart = true
                    lastToken = byte
                    position += 1
                    continue
                case star where valueStart:
                    // libyaml's anchor names are letters, digits, '-' and '_': the name ends
                    // at anything else, a ':' included (`*a: 1` uses the alias as a key).
                    let aliasColumn = position - lineStart + 1
                    var end = position + 1
                    while end < contentEnd, isAnchorCharacter(bytes[end]) { end += 1 }
                    var after = end
                    while after < contentEnd, bytes[after] == space || bytes[after] == tab { after += 1 }
                    let usedAsKey = after < contentEnd && bytes[after] == colon
                        || (lastToken == question)
                    if usedAsKey {
                        return Problem(message: "an alias cannot be used as a mapping key", line: lineNumber,
                                       column: aliasColumn)
                    }
                    position = end
                    valueStart = false
                    lastToken = star
                    continue
                case ampersand where valueStart, bang where valueStart:
                    // An anchor or a tag comes before the value it names: skip it, and the
                    // value (perhaps a flow collection) still starts after it. Inside brackets
                    // the name also ends at a flow indicator.
                    while position < contentEnd, bytes[position] != space, bytes[position] != tab,
                          flowDepth == 0 || !(openers.contains(bytes[position]) || closers.contains(bytes[position])
                                              || bytes[position] == comma) {
                        position += 1
                    }
                    continue
                case pipe where valueStart && flowDepth == 0, greater where valueStart && flowDepth == 0:
                    // After `--- |` the content may start at column 1: every line belongs to it.
                    blockScalarIndent = indentStack.isEmpty ? -1 : indent
                    position = contentEnd
                    continue
                default:
                    valueStart = false
                }
                if byte != space && byte != tab {
                    lastToken = byte == question && nextIsBlank ? question : byte
                }
                position += 1
            }
            let depth = indentStack.count * 2 + indicators + flowDepth
            if depth > limits.maxDepth {
                return Problem(message: "nesting is deeper than \(limits.maxDepth) levels", line: lineNumber,
                               column: indent + 1)
            }
        }
        return nil
    }
}
