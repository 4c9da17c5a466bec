import DployTestSupport
import Foundation
import Testing

/// Dependencies run one way, as CONTRIBUTING.md's module table says: each module's targets
/// in Package.swift, and every `import` in its sources, must be among the table's "may
/// import". A module the table does not list fails too, so a new one is placed on purpose.
@Suite("Module dependencies follow CONTRIBUTING.md", .ownThread)
struct ModuleDependencyTests {
    static let root = CommandLineTests.repositoryRoot

    /// Swift's own libraries: any module may use them, and the table does not list them.
    static let platform: Set<String> = ["Swift", "Foundation", "FoundationEssentials", "Glibc", "Musl", "Darwin",
                                        "Dispatch", "Synchronization", "_Concurrency"]

    @Test("Package.swift gives each module only what the table allows")
    func packageDependencies() throws {
        let table = try Self.moduleTable()
        let targets = try Self.packageTargets()
        var problems: [String] = []
        for (module, dependencies) in targets.sorted(by: { $0.key < $1.key }) {
            guard let allowed = table[module] else {
                problems.append("Package.swift: target \(module) has no row in CONTRIBUTING.md's module table")
                continue
            }
            for dependency in dependencies.sorted() where !allowed.contains(dependency) {
                problems.append("Package.swift: \(module) depends on \(dependency), which its row does not allow")
            }
        }
        for module in table.keys.sorted() where targets[module] == nil {
            problems.append("CONTRIBUTING.md: the module table lists \(module), which Package.swift has no target for")
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("every import under Sources/MODULE is allowed by the table")
    func sourceImports() throws {
        let table = try Self.moduleTable()
        var problems: [String] = []
        var checked = 0
        for (module, allowed) in table.sorted(by: { $0.key < $1.key }) {
            let folder = Self.root.appendingPathComponent("Sources/\(module)")
            guard let files = FileManager.default.enumerator(atPath: folder.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    guard let imported = Self.importedModule(line) else { continue }
                    checked += 1
                    if !allowed.contains(imported) && !Self.platform.contains(imported) {
                        problems.append("Sources/\(module)/\(file):\(number + 1): imports \(imported), which \(module)'s row does not allow")
                    }
                }
            }
        }
        #expect(checked > 100, "the import lines were not found: is the repository root \(Self.root.path)?")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("the test reads imports as Swift writes them")
    func importLines() {
        #expect(Self.importedModule("import DploySpec") == "DploySpec")
        #expect(Self.importedModule("@testable import DployPlan") == "DployPlan")
        #expect(Self.importedModule("@preconcurrency import Yams // why") == "Yams")
        #expect(Self.importedModule("import struct DployRender.BootServer") == "DployRender")
        #expect(Self.importedModule("    import Glibc") == "Glibc")
        #expect(Self.importedModule("/// import DployController, in a comment") == nil)
        #expect(Self.importedModule("let important = 1") == nil)
    }

    // MARK: Reading the table, the package and the sources

    /// The module of an `import` line, or nil for any other line.
    static func importedModule(_ line: Substring) -> String? {
        var words = line.split(whereSeparator: \.isWhitespace)[...]
        while let first = words.first, first.hasPrefix("@") { words.removeFirst() }
        guard words.first == "import", words.count >= 2 else { return nil }
        words.removeFirst()
        let kinds: Set<Substring> = ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias", "actor"]
        if let kind = words.first, kinds.contains(kind) { words.removeFirst() }
        return words.first.map { String($0.split(separator: ".")[0]) }
    }

    static func importedModule(_ line: String) -> String? { importedModule(Substring(line)) }

    /// CONTRIBUTING.md's `| module | owns | may import |` table: module → what it may import.
    /// A row may name several modules (`CGit2`, `CCurl`); "—" means nothing.
    static func moduleTable() throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("CONTRIBUTING.md"), encoding: .utf8)
        var table: [String: Set<String>] = [:]
        var inTable = false
        for line in text.split(separator: "\n") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if cells.count == 3, cells[0] == "module", cells[2] == "may import" {
                inTable = true
                continue
            }
            guard inTable else { continue }
            guard cells.count == 3 else { break }
            if cells[0].allSatisfy({ $0 == "-" || $0 == ":" }) { continue }
            let allowed = Set(names(in: cells[2]))
            for module in names(in: cells[0]) { table[module] = allowed }
        }
        #expect(!table.isEmpty, "CONTRIBUTING.md has no '| module | owns | may import |' table")
        return table
    }

    /// Module names in a cell: `A`, `B` or plain A, B; "—" is none.
    static func names(in cell: String) -> [String] {
        cell.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " `")) }
            .filter { !$0.isEmpty && $0 != "—" }
    }

    /// Each regular and executable target under Sources/ with what it depends on: target
    /// names, and products by their module name (`.product(name: "Yams", …)` is `Yams`).
    static func packageTargets() throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        var targets: [String: Set<String>] = [:]
        for kind in [".target(", ".executableTarget(", ".systemLibrary("] {
            for chunk in text.components(separatedBy: kind).dropFirst() {
                // A target's declaration ends where the next one starts.
                let declaration = chunk.components(separatedBy: "\n        .").first ?? chunk
                guard let name = firstQuoted(after: "name:", in: declaration) else { continue }
                if declaration.contains("path:") && !declaration.contains("path: \"Sources/") { continue }  // bench
                var dependencies: Set<String> = []
                if let start = declaration.range(of: "dependencies:") {
                    var rest = declaration[start.upperBound...]
                    while let quote = rest.firstIndex(of: "\"") {
                        let after = rest[rest.index(after: quote)...]
                        guard let end = after.firstIndex(of: "\"") else { break }
                        let word = String(after[..<end])
                        let before = rest[..<quote]
                        // `.product(name: "X", package: "Y")`: the module is X; skip the package.
                        if !before.hasSuffix("package: ") { dependencies.insert(word) }
                        rest = after[after.index(after: end)...]
                    }
                }
                targets[name] = dependencies
            }
        }
        return targets
    }

    static func firstQuoted(after key: String, in text: String) -> String? {
        guard let start = text.range(of: key) else { return nil }
        let rest = text[start.upperBound...]
        guard let open = rest.firstIndex(of: "\""), let close = rest[rest.index(after: open)...].firstIndex(of: "\"") else { return nil }
        return String(rest[rest.index(after: open)..<close])
    }
}
