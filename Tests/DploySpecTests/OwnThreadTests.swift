import DployTestSupport
import Foundation
import Testing

/// The trait that keeps blocking tests off Swift's pool (`OwnThread`) does what the suites
/// that use it count on: their code, before and after an await, and their child tasks run
/// on the thread the trait made for the test, not on one of the pool's.
@Suite("Tests that block run on threads of their own", .ownThread)
struct OwnThreadTests {
    @Test("a synchronous test runs on the thread the trait made for it")
    func synchronous() throws {
        let own = try #require(OwnThread.threadID)
        #expect(OwnThread.currentThreadID() == own)
    }

    @Test("an asynchronous test and its child tasks stay on its thread across awaits", arguments: [1, 2])
    func asynchronous(_ sleeps: Int) async throws {
        let own = try #require(OwnThread.threadID)
        #expect(OwnThread.currentThreadID() == own)
        for _ in 0..<sleeps { try await Task.sleep(for: .milliseconds(10)) }
        #expect(OwnThread.currentThreadID() == own)
        async let child = OwnThread.currentThreadID()
        #expect(await child == own)
    }

    @Test("a task it starts unstructured goes to the pool, not to the test's thread")
    func unstructured() async throws {
        let own = try #require(OwnThread.threadID)
        let thread = await Task { OwnThread.currentThreadID() }.value
        #expect(thread != nil && thread != own)
    }

    @Test("given twice, to a suite and to its test, the trait takes one slot and one thread", .ownThread, arguments: Array(0..<(OwnThread.limit + 2)))
    func givenTwice(_ index: Int) throws {
        #expect(OwnThread.currentThreadID() == OwnThread.threadID)
    }
}

/// No suite is left on the pool by being forgotten: every `@Suite` and every free `@Test`
/// in Tests/ carries `.ownThread`, and every type that holds tests declares its `@Suite`.
@Test("every suite and free test in Tests/ carries .ownThread", .ownThread)
func everySuiteHasItsOwnThreads() throws {
    let tests = repositoryRoot.appendingPathComponent("Tests")
    var missing: [String] = []
    let files = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
    #expect(files.count > 50, "the test files are found")
    for url in files where url.pathExtension == "swift" {
        let lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        let file = url.path.replacingOccurrences(of: tests.path + "/", with: "")
        for (index, line) in lines.enumerated() {
            let location = "\(file):\(index + 1)"
            if (line.hasPrefix("@Suite") || line.hasPrefix("@Test")) && !line.contains(".ownThread") { missing.append(location) }
            // A type declared at the top level that holds tests, without a @Suite line above it.
            if let type = line.firstMatch(of: /^(?:final )?(?:struct|class|enum) (\w+)/)?.1,
               // The line above the declaration, past doc comments and a @Suite's continued arguments.
               lines[..<index].last(where: { !$0.hasPrefix("///") && !$0.hasPrefix(" ") && !$0.hasPrefix(")") })?.hasPrefix("@Suite") != true {
                let body = lines[(index + 1)...].prefix { !$0.hasPrefix("}") }
                if body.contains(where: { $0.drop { $0 == " " }.hasPrefix("@Test") }) { missing.append("\(location) (\(type))") }
            }
        }
    }
    #expect(missing.isEmpty, "without .ownThread: \(missing)")
}
