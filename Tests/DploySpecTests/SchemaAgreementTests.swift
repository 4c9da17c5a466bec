import DploySpec
import DployTestSupport
import Foundation
import Testing
import Yams

/// The JSON Schemas in `schemas/` and dploy's own validator must accept and reject the
/// same documents. The real validator, `check-jsonschema`, reads every valid example (the
/// lab, split into one JSON file per document) and the corpus in `Tests/Fixtures/schema`;
/// dploy reads the same files one by one. Rules that span documents (references,
/// uniqueness) are outside what a schema can express, so dploy's per-file parse is
/// compared, not a whole load.
@Suite("JSON Schemas agree with the validator", .ownThread)
struct SchemaAgreementTests {
    static let corpus = repositoryRoot.appendingPathComponent("Tests/Fixtures/schema")

    @Test(.requires(.checkJSONSchema))
    func schemasAgree() throws {
        let checker = try Tool.checkJSONSchema.require()
        let scratch = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }

        // Each case: the file check-jsonschema reads, what dploy decided, and the kind's schema.
        var cases: [(file: String, kind: String, dployAccepts: Bool, expectedValid: Bool?)] = []
        let parser = SpecFileParser()
        for folder in ["valid", "invalid"] {
            let url = Self.corpus.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() where name.hasSuffix(".yaml") {
                let path = url.appendingPathComponent(name).path
                let parsed = parser.parse(SpecFile(path: path, contents: Array(try Data(contentsOf: URL(fileURLWithPath: path)))))
                let kind = String(name.prefix { $0 != "-" })
                cases.append((path, kind, parsed.diagnostics.isEmpty && parsed.documents.count == 1, folder == "valid"))
            }
        }
        let (labFiles, _) = try SpecDirectory(root: repositoryRoot.appendingPathComponent("examples/lab").path).read()
        for file in labFiles {
            for (index, document) in try Yams.Parser(yaml: String(decoding: file.contents, as: UTF8.self),
                                                      resolver: .basic, encoding: .utf8).documents().enumerated() {
                let kind = (document["kind"]?.scalar?.string ?? "unknown").lowercased()
                let json = scratch.appendingPathComponent("\(URL(fileURLWithPath: file.path).lastPathComponent)-\(index).json")
                try JSONSerialization.data(withJSONObject: jsonValue(document), options: [.sortedKeys]).write(to: json)
                cases.append((json.path, kind, true, true))
            }
        }
        #expect(cases.count > 150, "the corpus went missing: only \(cases.count) files")

        var schemaRejects: Set<String> = []
        for kind in Set(cases.map(\.kind)).sorted() {
            let files = cases.filter { $0.kind == kind }.map(\.file)
            schemaRejects.formUnion(try rejectedFiles(checker: checker, kind: kind, files: files))
        }
        for item in cases {
            let name = URL(fileURLWithPath: item.file).lastPathComponent
            let schemaAccepts = !schemaRejects.contains(item.file)
            #expect(schemaAccepts == item.dployAccepts,
                    "\(name): schema \(schemaAccepts ? "accepts" : "rejects"), dploy \(item.dployAccepts ? "accepts" : "rejects")")
            if let expected = item.expectedValid {
                #expect(item.dployAccepts == expected, "\(name) is in the \(expected ? "valid" : "invalid") corpus")
            }
        }
    }

    /// Runs check-jsonschema once for a kind and returns the files it rejected.
    private func rejectedFiles(checker: String, kind: String, files: [String]) throws -> Set<String> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: checker)
        let schema = repositoryRoot.appendingPathComponent("schemas/\(kind).schema.json").path
        process.arguments = ["--output-format", "json", "--schemafile", schema] + files
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any],
                                  "check-jsonschema printed no JSON for \(kind)")
        var rejected: Set<String> = []
        for key in ["errors", "parse_errors"] {
            for entry in report[key] as? [[String: Any]] ?? [] {
                if let file = entry["filename"] as? String { rejected.insert(file) }
            }
        }
        if report["status"] as? String == "fail" && rejected.isEmpty {
            Issue.record("check-jsonschema failed for \(kind) without naming a file: \(String(decoding: data, as: UTF8.self))")
        }
        return rejected
    }

    /// A YAML node as JSON, with scalars typed by the YAML 1.2 core schema, as ruamel reads them.
    private func jsonValue(_ node: Node) -> Any {
        switch node {
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping { object[key.scalar?.string ?? ""] = jsonValue(value) }
            return object
        case .sequence(let sequence):
            return sequence.map(jsonValue)
        case .alias:
            return NSNull()
        case .scalar(let scalar):
            switch YAMLScalar(scalar) {
            case .null: return NSNull()
            case .bool(let flag): return flag
            case .int(let number): return number
            case .double(let number): return number
            case .string(let text): return text
            }
        }
    }
}

extension Yams.Parser {
    /// Every non-empty document of the stream.
    func documents() throws -> [Node] {
        var nodes: [Node] = []
        while let node = try nextRoot() {
            if case .scalar(let scalar) = node, scalar.string.isEmpty { continue }
            nodes.append(node)
        }
        return nodes
    }
}
