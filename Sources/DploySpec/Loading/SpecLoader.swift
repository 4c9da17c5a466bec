import Dispatch
import Foundation

/// Loads desired state from spec files: parses each file, gathers the documents into a
/// `Fleet`, and checks the rules that span documents. Every problem of the whole load is
/// reported, sorted by file, line and column.
public struct SpecLoader: Sendable {
    public var parser: SpecFileParser
    public var validator: FleetValidator

    /// - Parameter refusedPaths: paths of the tree (folders or files, relative to its top) that
    ///   templates may not come from, with what they are (`SpecTree.refusedPaths`).
    /// - Parameter rules: the loader's own rules (`FleetValidator.rules`).
    public init(limits: YAMLLimits = .default, knownPaths: Set<String>? = nil, refusedPaths: [String: String] = [:],
                rules: (@Sendable (Fleet) -> [Diagnostic])? = nil) {
        parser = SpecFileParser(limits: limits)
        validator = FleetValidator(knownPaths: knownPaths, refusedPaths: refusedPaths, rules: rules)
    }

    public func load(_ files: [SpecFile]) -> LoadResult {
        assemble(parseAll(files))
    }

    /// Every file parsed, in order, on as many threads as there are processors (at most 8):
    /// files are independent (`ParsedFile`), and parsing ten thousand machines is most of a
    /// load. Results land in slots of their own, so the order, and every diagnostic, is the
    /// same as one thread's.
    func parseAll(_ files: [SpecFile]) -> [ParsedFile] {
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, 8, files.count / 8)
        guard workers > 1 else { return files.map(parser.parse) }
        var parsed = [ParsedFile?](repeating: nil, count: files.count)
        parsed.withUnsafeMutableBufferPointer { slots in
            // Each worker writes only the slots of its own indices.
            nonisolated(unsafe) let slots = slots
            let parser = parser
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for index in stride(from: worker, to: files.count, by: workers) { slots[index] = parser.parse(files[index]) }
            }
        }
        return parsed.map { $0! }
    }

    /// Builds the fleet from already parsed files (a git source reuses unchanged ones).
    public func assemble(_ files: [ParsedFile]) -> LoadResult {
        var fleet = Fleet()
        var diagnostics = files.flatMap(\.diagnostics)
        var firstDefinition: [Kind: [String: SourceLocation]] = [:]
        for document in files.flatMap(\.documents) {
            let meta = document.metadata
            if let first = firstDefinition[document.kind]?[meta.name] {
                diagnostics.append(Diagnostic("\(document.kind.rawValue) '\(meta.name)' is already defined at \(first)",
                                              at: meta.location))
                continue
            }
            firstDefinition[document.kind, default: [:]][meta.name] = meta.location
            fleet.add(document)
        }
        // Validate in source order, so "already used by" names the earlier definition.
        diagnostics += validator.validate(fleet)
        fleet.sortByName()
        return LoadResult(fleet: fleet, diagnostics: diagnostics.sorted(), fileCount: files.count,
                          documentCount: files.reduce(0) { $0 + $1.documentCount })
    }
}

/// What a load produced: the fleet (complete only when there are no diagnostics) and every problem.
public struct LoadResult: Hashable, Sendable {
    public var fleet: Fleet
    public var diagnostics: [Diagnostic]
    public var fileCount: Int
    public var documentCount: Int

    public var isValid: Bool { diagnostics.isEmpty }

    /// "8 machines, 3 groups, 2 profiles, 2 firmware baselines, 2 tasks in 12 documents, 9 files".
    public var summary: String {
        "\(fleet.summary) (\(documentCount) document\(documentCount == 1 ? "" : "s") in \(fileCount) file\(fileCount == 1 ? "" : "s"))"
    }
}
