import DploySpec
import DployTestSupport
import Foundation
import Testing

/// A generated corpus of mutated documents: the lab's files with bytes flipped, ranges
/// cut, lines repeated and YAML punctuation sprinkled in. Nothing may crash, and every
/// problem must still point into the file that holds it.
@Suite("Mutated documents", .ownThread)
struct MutationFuzzTests {
    /// SplitMix64: small, fast and the same on every machine, so a failure reproduces.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let punctuation = Array("[]{}:-?*&!|>'\"#,\n\t %@`\\<=~0a".utf8) + [0xC3, 0xA9, 0xFF, 0x00]

    static func mutate(_ bytes: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...40, using: &random)))
            case 2: bytes.insert(punctuation.randomElement(using: &random)!, at: at)
            case 3: bytes.removeSubrange(at...)
            case 4:
                // Repeat a line: duplicate keys and duplicate documents.
                let start = bytes[..<at].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
                let end = bytes[at...].firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.count
                bytes.insert(contentsOf: bytes[start..<end], at: end)
            default:
                // Indent or outdent a line.
                let start = bytes[..<at].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
                if bytes[start] == 0x20 { bytes.remove(at: start) } else { bytes.insert(0x20, at: start) }
            }
        }
        return bytes
    }

    @Test("3,000 mutations of the lab load without crashing and locate every error")
    func mutations() throws {
        let (files, knownPaths) = try SpecDirectory(root: repositoryRoot.appendingPathComponent("examples/lab").path).read()
        let loader = SpecLoader(knownPaths: knownPaths)
        var random = SeededGenerator(state: 2026)
        var rejected = 0
        for round in 0..<3000 {
            let victim = Int.random(in: 0..<files.count, using: &random)
            var mutated = files
            mutated[victim].contents = Self.mutate(files[victim].contents, using: &random)
            let result = loader.load(mutated)
            if !result.isValid { rejected += 1 }
            for diagnostic in result.diagnostics {
                let fileNames = Set(files.map(\.path))
                #expect(fileNames.contains(diagnostic.location.file), "round \(round): \(diagnostic)")
                #expect(diagnostic.location.line >= 1 && diagnostic.location.column >= 1, "round \(round): \(diagnostic)")
                #expect(!diagnostic.message.isEmpty)
            }
        }
        // Most mutations break something; a loader that rejects nothing is not reading.
        #expect(rejected > 1500, "only \(rejected) of 3000 mutations were rejected")
    }
}
