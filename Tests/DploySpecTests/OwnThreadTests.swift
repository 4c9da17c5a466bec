import DployTestSupport
import Foundation
import Testing

/// The trait that keeps blocking tests off Swift's pool (`OwnThread`) does what the suites
/// that use it count on: their code, before and after an await, runs on a thread of the
/// trait's, not on one of the pool's.
@Suite("Tests that block run on threads of their own", .ownThread)
struct OwnThreadTests {
    /// The kernel's name of the calling thread, as ThreadExecutor set it.
    static func threadName() -> String {
        (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines) ?? ""
    }

    @Test("a synchronous test runs on its own thread")
    func synchronous() {
        #expect(Self.threadName() == "dploy-test")
    }

    @Test("an asynchronous test stays on its own thread across awaits", arguments: [1, 2])
    func asynchronous(_ sleeps: Int) async throws {
        #expect(Self.threadName() == "dploy-test")
        for _ in 0..<sleeps { try await Task.sleep(for: .milliseconds(10)) }
        #expect(Self.threadName() == "dploy-test")
    }

    @Test("a task it starts unstructured goes to the pool, not to the test's thread")
    func unstructured() async {
        let name = await Task { Self.threadName() }.value
        #expect(name != "dploy-test" && !name.isEmpty, "\(name)")
    }
}
