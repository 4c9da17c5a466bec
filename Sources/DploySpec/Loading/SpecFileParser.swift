import Yams

/// Parses one file into typed documents.
public struct SpecFileParser: Sendable {
    public var limits: YAMLLimits

    public init(limits: YAMLLimits = .default) { self.limits = limits }

    public func parse(_ file: SpecFile) -> ParsedFile {
        var parsed = ParsedFile(path: file.path, documents: [], documentCount: 0, diagnostics: [])
        let text: String
        switch YAMLPreflight.text(of: file.contents, file: file.path, limits: limits) {
        case .success(let decoded): text = decoded
        case .failure(let diagnostic):
            parsed.diagnostics = [diagnostic]
            return parsed
        }
        let log = DiagnosticLog(file: file.path)
        let decoder = DocumentDecoder(log: log)
        do {
            // The basic resolver leaves every scalar untyped: YAMLScalar applies YAML 1.2 rules.
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            while let root = try parser.nextRoot() {
                if YAMLDocuments.isEmpty(root) { continue }
                parsed.documentCount += 1
                if let document = decoder.decode(root) { parsed.documents.append(document) }
            }
        } catch let error as YamlError {
            log.append(YAMLDocuments.diagnostic(for: error, file: file.path))
        } catch {
            log.error("cannot read YAML: \(error)", at: nil)
        }
        parsed.diagnostics = log.diagnostics
        return parsed
    }
}

enum YAMLDocuments {
    /// A document that holds nothing (only comments, or a stray `---`).
    static func isEmpty(_ root: Node) -> Bool {
        if case .scalar(let scalar) = root, scalar.style == .plain, YAMLScalar(scalar) == .null { return true }
        return false
    }

    static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        func repeatedKey(_ key: String, after mark: Mark, in text: String) -> SourceLocation? {
            // isNewline splits "\r\n" too, which Swift holds as one character.
            let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            guard mark.line >= 1, mark.line <= lines.count else { return nil }
            let indent = mark.column - 1
            for (offset, line) in lines.dropFirst(mark.line).enumerated() {
                let leading = line.prefix { $0 == " " }.count
                let content = line.drop { $0 == " " }
                if content.isEmpty || content.hasPrefix("#") { continue }
                if leading < indent { return nil }
                if leading == indent, line.dropFirst(indent).hasPrefix(key + ":") {
                    return SourceLocation(file: file, line: mark.line + offset + 1, column: indent + 1)
                }
            }
            return nil
        }
        func phrase(_ context: YamlError.Context?, _ problem: String) -> String {
            guard let context, !context.text.isEmpty else { return "YAML syntax: \(problem)" }
            return "YAML syntax: \(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return Diagnostic(phrase(context, problem), at: at(mark))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            // Yams marks the first occurrence; the repeat, a later line at the same
            // indentation, is where the operator has to look.
            let first = context.mark
            let repeated = duplicates.first.flatMap { repeatedKey($0, after: first, in: context.text) }
            return Diagnostic("duplicate key \(keys) in this mapping (first at line \(first.line)): each key may appear once",
                              at: repeated ?? at(first))
        case .reader(let problem, let offset, _, let yaml):
            let prefix = offset.map { yaml.utf8.prefix($0) } ?? yaml.utf8.prefix(0)
            let line = prefix.count(where: { $0 == 0x0A }) + 1
            let column = prefix.split(separator: 0x0A, omittingEmptySubsequences: false).last.map { $0.count + 1 } ?? 1
            return Diagnostic("cannot read file: \(problem)", at: SourceLocation(file: file, line: line, column: column))
        default:
            return Diagnostic("cannot read YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }
}
