import Foundation
import Testing

/// Files a git author could push to make `dploy validate` (and the daemon, which loads the
/// same way) spin or crash. Each one ran at full CPU until killed before the YAML gate
/// read the file with libyaml's own parser.
extension CommandLineTests {
    /// Ten levels of ten aliases each: 10^10 nodes if expanded, in under 600 bytes.
    static let aliasChain: String = {
        var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 {
            lines.append("l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    /// Both used to spin: the key hides from a line-by-line check (a `? -` complex key, or a
    /// comment that a lone CR ends), and Yams then hashes 10^10 nodes. The gate counts the
    /// expansion as libyaml streams the anchors and stops at the alias that passes the limit.
    @Test("an alias bomb used as a key is refused at the alias that passes the limit, not hashed",
          arguments: [
            ("complex key", aliasChain + "? - *l9\n: boom\n"),
            ("key after a comment a lone CR ends", aliasChain + "# note\r*l9 : boom\n"),
          ])
    func aliasBombAsKey(_ name: String, text: String) throws {
        let folder = try makeFolder(["bomb.yaml": text])
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try dploy("validate", ".", in: folder)
        #expect(run.status == 1, "\(name): \(run.stderr)")
        #expect(run.stderr == "bomb.yaml:5:45: error: document holds more than 100000 nodes once its aliases are expanded\n1 error in .\n")
    }
}
