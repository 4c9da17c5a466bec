import DploySpec
import DployTestSupport
import Testing

@Suite("Where a diagnostic points", .ownThread)
struct SourceLocationTests {
    @Test("a spec file's name with a line break, an escape sequence or a bidi override is shown escaped")
    func hostileFileName() {
        let location = SourceLocation(file: "machines/x\n\u{1B}[2J\u{1B}[32mall good: 0 errors\r\u{202E}lmay.yaml", line: 3, column: 7)
        let shown = Diagnostic("bad", at: location).description
        #expect(shown == #"machines/x\n\u{1B}[2J\u{1B}[32mall good: 0 errors\r\u{202E}lmay.yaml:3:7: error: bad"#)
        #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x202E })
        #expect(SourceLocation(file: "machines/web.yaml", line: 1, column: 2).description == "machines/web.yaml:1:2")
    }
}
